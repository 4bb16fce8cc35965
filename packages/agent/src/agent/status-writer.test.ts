import { waitFor } from '@gantry/testkit';
import { StatusWriter } from './status-writer';

function memoryStore() {
  const puts: Array<[string, string]> = [];
  const deletes: string[] = [];
  let failing = false;
  return {
    puts,
    deletes,
    fail: (on: boolean) => (failing = on),
    put: async (key: string, value: string) => {
      if (failing) throw new Error('etcd unavailable');
      puts.push([key, value]);
    },
    delete: async (key: string) => {
      if (failing) throw new Error('etcd unavailable');
      deletes.push(key);
    },
  };
}

describe('status writer', () => {
  it('writes the latest value of a key, and never an unchanged one', async () => {
    const store = memoryStore();
    const writer = new StatusWriter(store, { minIntervalMs: 20 });
    writer.set('k', '1');
    writer.set('k', '2');
    await writer.flush();
    writer.set('k', '2');
    await writer.flush();
    writer.stop();
    expect(store.puts).toEqual([['k', '2']]);
  });

  it('keeps retrying while the store fails, and lands the last value', async () => {
    const store = memoryStore();
    const errors: string[] = [];
    const writer = new StatusWriter(store, { minIntervalMs: 0, retryMs: 5, onError: (_k, e) => errors.push(e.message) });
    store.fail(true);
    writer.set('k', 'a');
    await waitFor(() => errors.length >= 2, { what: 'failed writes' });
    writer.set('k', 'b');
    store.fail(false);
    await waitFor(() => store.puts.length > 0, { what: 'the write to land' });
    await writer.flush();
    writer.stop();
    expect(store.puts).toEqual([['k', 'b']]);
  });

  it('removes a record: nothing pending is written after, and the key is deleted', async () => {
    const store = memoryStore();
    const writer = new StatusWriter(store, { minIntervalMs: 1_000 });
    writer.set('k', '1');
    await waitFor(() => store.puts.length === 1, { what: 'the first write' });
    writer.set('k', '2'); // spaced: still pending when removed
    await writer.remove('k');
    expect(store.deletes).toEqual(['k']);
    await writer.flush(100);
    expect(store.puts).toEqual([['k', '1']]);
    writer.stop();
  });

  it('writes its last value again when a watch shows someone else changed or deleted the key, and only then', async () => {
    const store = memoryStore();
    const writer = new StatusWriter(store, { minIntervalMs: 0 });
    writer.set('k', 'mine');
    await waitFor(() => store.puts.length === 1, { what: 'the first write' });
    expect(writer.reassert('k', 'mine')).toBe(false); // the echo of our own write
    expect(writer.reassert('other', 'x')).toBe(false); // never ours
    expect(writer.reassert('k', '{"garbage"')).toBe(true);
    await waitFor(() => store.puts.length === 2, { what: 'the rewrite' });
    expect(writer.reassert('k', undefined)).toBe(true); // deleted by hand
    await waitFor(() => store.puts.length === 3, { what: 'the rewrite after a delete' });
    expect(store.puts.map(([, v]) => v)).toEqual(['mine', 'mine', 'mine']);
    writer.stop();
  });

  it('a value that may wait folds into the next; one that may not brings the write forward and takes it along', async () => {
    const store = memoryStore();
    const writer = new StatusWriter(store, { minIntervalMs: 0 });
    const progress = { spacingMs: 60_000 };
    writer.set('k', 'begun'); // at once
    await waitFor(() => store.puts.length === 1, { what: 'the first write' });
    writer.set('k', 'pulling', progress);
    writer.set('k', 'draining', progress);
    await new Promise((r) => setTimeout(r, 30));
    expect(store.puts.map(([, v]) => v)).toEqual(['begun']); // waiting out the spacing
    writer.set('k', 'running');
    await waitFor(() => store.puts.length === 2, { what: 'the settled write' });
    await writer.flush();
    writer.stop();
    expect(store.puts.map(([, v]) => v)).toEqual(['begun', 'running']);
  });

  it('flush writes what waits at once, whatever its pace', async () => {
    const store = memoryStore();
    const writer = new StatusWriter(store, { minIntervalMs: 0 });
    writer.set('k', 'detail', { holdMs: 60_000, spacingMs: 60_000 });
    await writer.flush(1_000);
    expect(store.puts).toEqual([['k', 'detail']]);
    writer.stop();
  });

  it('holds a value for holdMs after it was set, even on a quiet key: a step shorter than that is never written', async () => {
    const store = memoryStore();
    const writer = new StatusWriter(store, { minIntervalMs: 0 });
    writer.set('k', 'pulling', { holdMs: 60_000 });
    await new Promise((r) => setTimeout(r, 30));
    expect(store.puts).toEqual([]);
    writer.set('k', 'pulled');
    await waitFor(() => store.puts.length === 1, { what: 'the write' });
    await writer.flush();
    expect(store.puts).toEqual([['k', 'pulled']]);
    writer.set('k', 'detail', { holdMs: 20 }); // waits, then goes on its own
    await waitFor(() => store.puts.length === 2, { what: 'the held write' });
    expect(store.puts[1]).toEqual(['k', 'detail']);
    writer.stop();
  });

  it('stamps a value as it is put: what a watch shows of it is ours, and is not written again', async () => {
    const store = memoryStore();
    let n = 0;
    const writer = new StatusWriter(store, { minIntervalMs: 0, stamp: (_key, value) => `${value}@${++n}` });
    writer.set('k', 'a');
    await waitFor(() => store.puts.length === 1, { what: 'the write' });
    expect(store.puts).toEqual([['k', 'a@1']]);
    expect(writer.reassert('k', 'a@1')).toBe(false); // the echo of our own write
    writer.set('k', 'a'); // unchanged
    await writer.flush();
    expect(store.puts.length).toBe(1);
    expect(writer.reassert('k', 'b')).toBe(true);
    await waitFor(() => store.puts.length === 2, { what: 'the rewrite' });
    expect(store.puts[1]).toEqual(['k', 'a@2']);
    writer.stop();
  });
});
