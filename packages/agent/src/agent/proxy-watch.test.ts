import winston from 'winston';
import type { HostProxy, ProxyRestore } from '../proxy/proxy';
import { ProxyWatch } from './proxy-watch';

const silent = winston.createLogger({ silent: true });

/** A proxy whose health and restore outcome the test sets. */
function fakeProxy(state: { healthy: boolean; restore: () => Promise<ProxyRestore> }) {
  const calls = { restore: 0 };
  const proxy = {
    healthy: async () => state.healthy,
    restore: async () => {
      calls.restore++;
      return state.restore();
    },
  } as unknown as HostProxy;
  return { proxy, calls };
}

describe('ProxyWatch', () => {
  it('does nothing while the proxy is healthy', async () => {
    const { proxy, calls } = fakeProxy({ healthy: true, restore: async () => ({ action: 'none' }) });
    const restored: unknown[] = [];
    await new ProxyWatch(proxy, { log: silent, onRestored: (o) => restored.push(o) }).check();
    expect(calls.restore).toBe(0);
    expect(restored).toEqual([]);
  });

  it('restores an unhealthy proxy and tells the agent, so components are checked at once', async () => {
    const outcome: ProxyRestore = { action: 'restarted', reason: 'no HAProxy master runs', replaced: [], tookMs: 120 };
    const { proxy } = fakeProxy({ healthy: false, restore: async () => outcome });
    const restored: unknown[] = [];
    await new ProxyWatch(proxy, { log: silent, onRestored: (o) => restored.push(o) }).check();
    expect(restored).toEqual([outcome]);
  });

  it('reports a failed restore as a problem (once per reason), never throws, and clears it when the proxy is back', async () => {
    const state = { healthy: false, restore: async (): Promise<ProxyRestore> => Promise.reject(new Error('frontend web-80 cannot bind 127.0.1.9:80: EADDRINUSE')) };
    const { proxy, calls } = fakeProxy(state);
    const problems: Array<string | undefined> = [];
    const watch = new ProxyWatch(proxy, { log: silent, onProblem: (p) => problems.push(p) });
    await watch.check();
    await watch.check();
    expect(calls.restore).toBe(2); // tried again each tick
    expect(problems[0]).toMatch(/HAProxy is down and could not be restored: frontend web-80 cannot bind/);
    state.healthy = true;
    await watch.check();
    expect(problems.at(-1)).toBeUndefined();
  });

  it('never runs two restores at once', async () => {
    let release!: () => void;
    const { proxy, calls } = fakeProxy({ healthy: false, restore: () => new Promise<ProxyRestore>((r) => (release = () => r({ action: 'files-rewritten' }))) });
    const watch = new ProxyWatch(proxy, { log: silent });
    const first = watch.check();
    await new Promise((r) => setImmediate(r));
    await watch.check();
    release();
    await first;
    expect(calls.restore).toBe(1);
  });
});
