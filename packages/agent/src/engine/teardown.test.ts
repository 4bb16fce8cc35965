import type { EngineEvent } from './events';
import { ContainerTeardowns } from './teardown';

/** A runtime whose stop ends when the test says so: the teardown's bookkeeping, without Docker. */
function heldRuntime() {
  const calls: string[] = [];
  const stops = new Map<string, () => void>();
  let refuseRemove: string | undefined;
  return {
    calls,
    release: (id: string) => stops.get(id)!(),
    refuseRemoveWith: (message: string) => (refuseRemove = message),
    runtime: {
      stop: (id: string, timeoutMs: number) => {
        calls.push(`stop ${id} ${timeoutMs}`);
        return new Promise<void>((resolve) => stops.set(id, resolve));
      },
      remove: async (id: string) => {
        calls.push(`remove ${id}`);
        if (refuseRemove) throw new Error(refuseRemove);
      },
    },
  };
}

describe('ContainerTeardowns', () => {
  it('stops then removes in the background, listed while it runs, and reports how long it took', async () => {
    const held = heldRuntime();
    const teardowns = new ContainerTeardowns(held.runtime);
    const events: EngineEvent['type'][] = [];
    const done = teardowns.begin({ id: 'old', component: 'web' }, 10_000, (e) => events.push(e.type));
    expect(teardowns.has('old')).toBe(true);
    expect(teardowns.list('web')).toEqual([expect.objectContaining({ container: 'old', component: 'web', stopTimeoutMs: 10_000 })]);
    expect(teardowns.list('db')).toEqual([]);
    await Promise.resolve();
    expect(held.calls).toEqual(['stop old 10000']);
    held.release('old');
    const result = await done;
    expect(result).toMatchObject({ container: 'old', component: 'web' });
    expect(result.error).toBeUndefined();
    expect(held.calls).toEqual(['stop old 10000', 'remove old']);
    expect(events).toEqual(['teardown-started', 'stopped', 'removed', 'teardown-done']);
    expect(teardowns.has('old')).toBe(false);
    expect(teardowns.list()).toEqual([]);
  });

  it('never runs two teardowns of one container: a second begin shares the first one’s end', async () => {
    const held = heldRuntime();
    const teardowns = new ContainerTeardowns(held.runtime);
    const first = teardowns.begin({ id: 'old', component: 'web' }, 5_000);
    const secondEvents: EngineEvent[] = [];
    const second = teardowns.begin({ id: 'old', component: 'web' }, 5_000, (e) => secondEvents.push(e));
    expect(second).toBe(first);
    await Promise.resolve();
    held.release('old');
    await second;
    expect(held.calls).toEqual(['stop old 5000', 'remove old']);
    expect(secondEvents).toEqual([]);
  });

  it('settles only what runs, and a failure ends in the result (never a rejection) so the next observation tries again', async () => {
    const held = heldRuntime();
    held.refuseRemoveWith('docker is away');
    const teardowns = new ContainerTeardowns(held.runtime);
    const events: EngineEvent[] = [];
    void teardowns.begin({ id: 'a', component: 'web' }, 1_000, (e) => events.push(e));
    const settled = teardowns.settled(['a', 'not-running']);
    await Promise.resolve();
    held.release('a');
    expect(await settled).toEqual([expect.objectContaining({ container: 'a', error: 'docker is away' })]);
    expect(events.map((e) => e.type)).toEqual(['teardown-started', 'stopped', 'teardown-failed']);
    expect(teardowns.has('a')).toBe(false);
    expect(await teardowns.settled()).toEqual([]);
  });
});
