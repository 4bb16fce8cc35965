import { waitFor } from '@gantry/testkit';
import { StatusWriter } from './status-writer';

function memoryStore() {
  const puts: Array<[string, string]> = [];
  let failing = false;
  return {
    puts,
    fail: (on: boolean) => (failing = on),
    put: async (key: string, value: string) => {
      if (failing) throw new Error('etcd unavailable');
      puts.push([key, value]);
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
});
