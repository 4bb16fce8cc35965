import { checkSchema, type Check } from '@gantry/spec';
import { waitFor } from '@gantry/testkit';
import { fakeTarget, startHttpServer, type LocalServer } from './check-test-servers';
import { HealthMonitor, type HealthStatus, type MonitorTimers } from './health-monitor';

const parse = (fields: Record<string, unknown>): Check => checkSchema.parse(fields);

/** Timers the test fires by hand: each round is stepped, never waited for. */
class ManualTimers implements MonitorTimers {
  readonly pending: { callback: () => void; ms: number }[] = [];
  setTimeout(callback: () => void, ms: number): unknown {
    const entry = { callback, ms };
    this.pending.push(entry);
    return entry;
  }
  clearTimeout(handle: unknown): void {
    const i = this.pending.indexOf(handle as (typeof this.pending)[number]);
    if (i >= 0) this.pending.splice(i, 1);
  }
  fire(): void {
    const entry = this.pending.shift();
    if (!entry) throw new Error('no round scheduled');
    entry.callback();
  }
}

/** A container whose check command exits with whatever `exitCode` says when asked. */
function scriptedContainer() {
  const state = { exitCode: 0, attempts: 0 };
  const target = fakeTarget({
    exec: async () => {
      state.attempts += 1;
      return { exitCode: state.exitCode, output: state.exitCode ? 'down' : 'up' };
    },
  });
  return { state, target };
}

function harness(checks: Check[], failureThreshold: number) {
  const { state, target } = scriptedContainer();
  const timers = new ManualTimers();
  const changes: HealthStatus[] = [];
  let unhealthyCalls = 0;
  const monitor = new HealthMonitor(checks, target, {
    failureThreshold,
    timers,
    onChange: (status) => changes.push(status),
    onUnhealthy: () => (unhealthyCalls += 1),
  });
  /** Runs one round (the first on start, then each on the scheduled timer) and waits for it to be recorded. */
  const round = async (exitCode: number) => {
    state.exitCode = exitCode;
    const before = state.attempts;
    if (before === 0) monitor.start();
    else timers.fire();
    await waitFor(() => timers.pending.length === 1 && state.attempts > before, { timeoutMs: 2000, intervalMs: 1, what: 'the round to finish' });
    return monitor.status();
  };
  return { monitor, timers, changes, round, unhealthyCalls: () => unhealthyCalls };
}

describe('HealthMonitor', () => {
  it('is unknown until a round passes or the threshold is reached', async () => {
    const { monitor, round } = harness([parse({ kind: 'exec', command: ['probe'], retries: 1 })], 3);
    expect(monitor.status()).toEqual({ state: 'unknown', consecutiveFailures: 0, failingChecks: [], lastResults: [], checkedAt: undefined });
    expect(await round(1)).toMatchObject({ state: 'unknown', consecutiveFailures: 1, failingChecks: ['exec'] });
    const passed = await round(0);
    expect(passed).toMatchObject({ state: 'healthy', consecutiveFailures: 0, failingChecks: [], lastResults: [{ check: 'exec', ok: true, detail: 'exec probe → exit 0: up' }] });
    expect(passed.checkedAt).toBeInstanceOf(Date);
    await monitor.stop();
  });

  it('turns unhealthy after failureThreshold failing rounds, calls onUnhealthy once, and recovers', async () => {
    const { monitor, round, changes, unhealthyCalls } = harness([parse({ kind: 'exec', command: ['probe'], retries: 1 })], 3);
    expect((await round(0)).state).toBe('healthy');
    expect(await round(1)).toMatchObject({ state: 'healthy', consecutiveFailures: 1 });
    expect(await round(1)).toMatchObject({ state: 'healthy', consecutiveFailures: 2 });
    expect(unhealthyCalls()).toBe(0);
    expect(await round(1)).toMatchObject({ state: 'unhealthy', consecutiveFailures: 3, lastResults: [{ ok: false, detail: 'exec probe → exit 1: down' }] });
    expect(unhealthyCalls()).toBe(1);
    await round(1);
    await round(1);
    expect(unhealthyCalls()).toBe(1);

    expect(await round(0)).toMatchObject({ state: 'healthy', consecutiveFailures: 0 });
    for (let i = 0; i < 3; i += 1) await round(1);
    expect(unhealthyCalls()).toBe(2); // recovered in between, so it fires again
    expect(changes.map((c) => `${c.state}/${c.consecutiveFailures}`)).toEqual([
      'healthy/0',
      'healthy/1',
      'healthy/2',
      'unhealthy/3',
      'unhealthy/4',
      'unhealthy/5',
      'healthy/0',
      'healthy/1',
      'healthy/2',
      'unhealthy/3',
    ]);
    await monitor.stop();
  });

  it('counts a check as failing only after its retries consecutive failures', async () => {
    const { monitor, round } = harness([parse({ kind: 'exec', command: ['probe'], retries: 3 })], 1);
    await round(0);
    expect(await round(1)).toMatchObject({ state: 'healthy', consecutiveFailures: 0, failingChecks: [] });
    expect(await round(1)).toMatchObject({ state: 'healthy', consecutiveFailures: 0 });
    await round(0); // a pass resets the check's count
    await round(1);
    await round(1);
    expect(await round(1)).toMatchObject({ state: 'unhealthy', consecutiveFailures: 1, failingChecks: ['exec'] });
    await monitor.stop();
  });

  it('schedules rounds every interval: the smallest of the checks, else defaultIntervalS', async () => {
    const target = scriptedContainer().target;
    const timers = new ManualTimers();
    const monitor = new HealthMonitor([parse({ kind: 'exec', command: ['a'] }), parse({ kind: 'exec', command: ['b'], interval: 2 })], target, {
      failureThreshold: 1,
      timers,
      now: () => 1_000, // the round took no time
    }).start();
    await waitFor(() => timers.pending.length === 1, { timeoutMs: 2000, intervalMs: 1 });
    expect(timers.pending[0].ms).toBe(2000);
    await monitor.stop();

    for (const [defaultIntervalS, expected] of [[undefined, 5000], [7, 7000]] as const) {
      const defaultTimers = new ManualTimers();
      const viaDefault = new HealthMonitor([parse({ kind: 'exec', command: ['a'] })], target, { failureThreshold: 1, timers: defaultTimers, now: () => 0, defaultIntervalS }).start();
      await waitFor(() => defaultTimers.pending.length === 1, { timeoutMs: 2000, intervalMs: 1 });
      expect(defaultTimers.pending[0].ms).toBe(expected);
      await viaDefault.stop();
      expect(defaultTimers.pending).toHaveLength(0);
    }
  });

  it('is healthy at once, with nothing scheduled, when there are no checks', async () => {
    const timers = new ManualTimers();
    const monitor = new HealthMonitor([], scriptedContainer().target, { failureThreshold: 1, timers }).start();
    expect(monitor.status()).toMatchObject({ state: 'healthy', consecutiveFailures: 0 });
    expect(timers.pending).toHaveLength(0);
    await monitor.stop();
  });

  it('keeps monitoring when a callback throws', async () => {
    const { state, target } = scriptedContainer();
    const timers = new ManualTimers();
    const monitor = new HealthMonitor([parse({ kind: 'exec', command: ['a'], retries: 1 })], target, {
      failureThreshold: 1,
      timers,
      onChange: () => {
        throw new Error('listener bug');
      },
    }).start();
    await waitFor(() => timers.pending.length === 1, { timeoutMs: 2000, intervalMs: 1 });
    state.exitCode = 1;
    timers.fire();
    await waitFor(() => monitor.status().state === 'unhealthy', { timeoutMs: 2000, intervalMs: 1 });
    await monitor.stop();
  });

  describe('with real timers', () => {
    let server: LocalServer;
    let hang = false;
    let requests = 0;
    beforeAll(async () => {
      server = await startHttpServer((_req, res) => {
        requests += 1;
        if (!hang) res.end('ok');
      });
    });
    afterAll(() => server.close());
    /** Real timers that count how many the monitor has pending. */
    function countedTimers() {
      const live = new Set<NodeJS.Timeout>();
      const timers: MonitorTimers = {
        setTimeout: (callback, ms) => {
          const handle = setTimeout(() => {
            live.delete(handle);
            callback();
          }, ms);
          live.add(handle);
          return handle;
        },
        clearTimeout: (handle) => {
          clearTimeout(handle as NodeJS.Timeout);
          live.delete(handle as NodeJS.Timeout);
        },
      };
      return { timers, pending: () => live.size };
    }

    it('runs rounds on its own, and stop() leaves no timer or socket behind', async () => {
      hang = false;
      const { timers, pending } = countedTimers();
      const monitor = new HealthMonitor([parse({ kind: 'http', port: 80, interval: 0.02 })], fakeTarget({ ports: { 80: server.port } }), { failureThreshold: 1, timers }).start();
      const start = requests;
      await waitFor(() => requests >= start + 3, { timeoutMs: 5000, intervalMs: 5, what: 'three rounds' });
      expect(monitor.status().state).toBe('healthy');
      await monitor.stop();
      expect(pending()).toBe(0);
      await waitFor(() => server.openConnections() === 0, { timeoutMs: 2000, intervalMs: 5, what: 'connections to close' });
      expect(() => monitor.start()).toThrow(/after stop/);
    });

    it('stop() cuts a round in flight promptly, without calling back', async () => {
      hang = true;
      const { timers, pending } = countedTimers();
      let changes = 0;
      const monitor = new HealthMonitor([parse({ kind: 'http', port: 80, timeout: 30 })], fakeTarget({ ports: { 80: server.port } }), {
        failureThreshold: 1,
        timers,
        onChange: () => (changes += 1),
      }).start();
      await waitFor(() => server.openConnections() > 0, { timeoutMs: 5000, intervalMs: 1, what: 'the hung attempt' });
      const stoppedAt = performance.now();
      await monitor.stop();
      expect(performance.now() - stoppedAt).toBeLessThan(50);
      expect(changes).toBe(0);
      expect(monitor.status().state).toBe('unknown');
      expect(pending()).toBe(0);
      await waitFor(() => server.openConnections() === 0, { timeoutMs: 2000, intervalMs: 5, what: 'the cut connection to close' });
    });
  });
});
