import { checkSchema, type Check } from '@gantry/spec';
import { waitFor } from '@gantry/testkit';
import type { CheckResult } from './check-result';
import { fakeTarget, startHttpServer, startTcpServer, type LocalServer } from './check-test-servers';
import { waitUntilReady } from './ready-gate';

const parse = (fields: Record<string, unknown>): Check => checkSchema.parse(fields);

/** An HTTP server answering /ready with 503 until flipped, and never answering /hang. */
async function flippableServer() {
  let ready = false;
  let requests = 0;
  const server = await startHttpServer((req, res) => {
    if (req.url === '/hang') return;
    requests += 1;
    res.writeHead(ready ? 200 : 503).end();
  });
  return {
    server,
    requests: () => requests,
    flip: () => {
      ready = true;
      return performance.now();
    },
  };
}

describe('waitUntilReady', () => {
  let app: Awaited<ReturnType<typeof flippableServer>>;
  let tcp: LocalServer;
  beforeEach(async () => {
    app = await flippableServer();
    tcp = await startTcpServer();
  });
  afterEach(async () => {
    await app.server.close();
    await tcp.close();
  });
  const target = () => fakeTarget({ ports: { 8080: app.server.port, 5432: tcp.port } });
  const readyCheck = parse({ kind: 'http', port: 8080, path: '/ready', id: 'app-ready' });

  it('is ready at once with no checks', async () => {
    expect(await waitUntilReady([], target(), { readyTimeoutMs: 1000 })).toMatchObject({ ready: true, attempts: 0, results: [] });
  });

  it('passes as soon as the server turns ready, after failed rounds', async () => {
    const seen: CheckResult[] = [];
    const gate = waitUntilReady([readyCheck, parse({ kind: 'tcp', port: 5432 })], target(), {
      readyTimeoutMs: 10_000,
      onAttempt: (result) => seen.push(result),
    });
    await waitFor(() => app.requests() >= 3, { timeoutMs: 5000, intervalMs: 1, what: 'three failed rounds' });
    const flippedAt = app.flip();
    const outcome = await gate;
    const latencyMs = performance.now() - flippedAt;

    expect(outcome).toMatchObject({ ready: true, results: [{ check: 'app-ready', ok: true }, { check: 'tcp', ok: true }] });
    expect(outcome.ready && outcome.attempts).toBeGreaterThan(1);
    expect(seen.filter((r) => r.check === 'app-ready').map((r) => r.ok)).toEqual([...Array(seen.length / 2 - 1).fill(false), true]);
    expect(latencyMs).toBeLessThan(100 + 50); // at most one 0.1 s interval, plus the round itself
  });

  it('times out, naming the failing check in lastResults', async () => {
    const outcome = await waitUntilReady([readyCheck, parse({ kind: 'tcp', port: 5432 })], target(), { readyTimeoutMs: 300 });
    expect(outcome).toMatchObject({
      ready: false,
      reason: 'timeout',
      lastResults: [
        { check: 'app-ready', ok: false, detail: `GET http://127.0.0.1:${app.server.port}/ready → 503` },
        { check: 'tcp', ok: true },
      ],
    });
    expect(outcome.elapsedMs).toBeGreaterThanOrEqual(299);
    expect(outcome.elapsedMs).toBeLessThan(450);
  });

  it('cuts an attempt at the ready timeout even when the check allows longer', async () => {
    const outcome = await waitUntilReady([parse({ kind: 'http', port: 8080, path: '/hang', timeout: 30 })], target(), { readyTimeoutMs: 200 });
    expect(outcome).toMatchObject({ ready: false, reason: 'timeout', lastResults: [{ ok: false, detail: expect.stringMatching(/→ timed out after 20\d ms$/) }] });
    expect(outcome.elapsedMs).toBeLessThan(350);
  });

  it('requires every check to pass in the same round', async () => {
    let round = 0;
    const alternating = fakeTarget({
      exec: async (command) => {
        if (command[0] === 'a') round += 1;
        return { exitCode: (round % 2 === 0) === (command[0] === 'a') ? 0 : 1, output: '' };
      },
    });
    const checks = [parse({ kind: 'exec', command: ['a'], interval: 0.01 }), parse({ kind: 'exec', command: ['b'], interval: 0.01 })];
    const outcome = await waitUntilReady(checks, alternating, { readyTimeoutMs: 200 });
    expect(outcome).toMatchObject({ ready: false, reason: 'timeout' });
    expect(round).toBeGreaterThan(5);
  });

  it('stops when aborted, during an attempt or between rounds', async () => {
    const during = new AbortController();
    const hung = waitUntilReady([parse({ kind: 'http', port: 8080, path: '/hang', timeout: 30 })], target(), { readyTimeoutMs: 60_000, signal: during.signal });
    await waitFor(() => app.server.openConnections() > 0, { timeoutMs: 5000, intervalMs: 1, what: 'the hung attempt' });
    const abortedAt = performance.now();
    during.abort();
    expect(await hung).toMatchObject({ ready: false, reason: 'aborted' });
    expect(performance.now() - abortedAt).toBeLessThan(50);
    await waitFor(() => app.server.openConnections() === 0, { timeoutMs: 2000, intervalMs: 5, what: 'the cut attempt to close its connection' });

    const between = new AbortController();
    const slow = waitUntilReady([parse({ kind: 'http', port: 8080, path: '/ready', interval: 60 })], target(), {
      readyTimeoutMs: 60_000,
      signal: between.signal,
      onAttempt: () => between.abort(),
    });
    expect(await slow).toMatchObject({ ready: false, reason: 'aborted', lastResults: [{ ok: false }] });

    expect(await waitUntilReady([readyCheck], target(), { readyTimeoutMs: 1000, signal: AbortSignal.abort() })).toMatchObject({ reason: 'aborted' });
  });

  it('stops early when the container exits', async () => {
    let probes = 0;
    const failing = fakeTarget({ exec: async () => ({ exitCode: 1, output: 'no' }) });
    const outcome = await waitUntilReady([parse({ kind: 'exec', command: ['check'], interval: 0.01 })], failing, {
      readyTimeoutMs: 60_000,
      isAlive: async () => (probes += 1) < 3,
    });
    expect(outcome).toMatchObject({ ready: false, reason: 'exited', lastResults: [{ check: 'exec', ok: false, detail: 'exec check → exit 1: no' }] });
    expect(outcome.elapsedMs).toBeLessThan(1000);
  });

  it('stops at once when the container exits during a hung attempt', async () => {
    let exited = false;
    const gate = waitUntilReady([parse({ kind: 'http', port: 8080, path: '/hang', timeout: 30 })], target(), {
      readyTimeoutMs: 60_000,
      isAlive: () => waitFor(() => exited, { timeoutMs: 5000, intervalMs: 1 }).then(() => false),
    });
    await waitFor(() => app.server.openConnections() > 0, { timeoutMs: 5000, intervalMs: 1, what: 'the hung attempt' });
    exited = true;
    expect(await gate).toMatchObject({ ready: false, reason: 'exited' });
  });

  it('treats a failing isAlive probe as alive', async () => {
    const gate = waitUntilReady([readyCheck], target(), { readyTimeoutMs: 10_000, isAlive: () => Promise.reject(new Error('docker down')) });
    await waitFor(() => app.requests() >= 2, { timeoutMs: 5000, intervalMs: 1 });
    app.flip();
    expect(await gate).toMatchObject({ ready: true });
  });

  it('rejects when onAttempt throws, cutting the attempts still in flight', async () => {
    const checks = [parse({ kind: 'tcp', port: 5432, id: 'quick' }), parse({ kind: 'http', port: 8080, path: '/hang', timeout: 30 })];
    const gate = waitUntilReady(checks, target(), {
      readyTimeoutMs: 60_000,
      onAttempt: () => {
        throw new Error('listener bug');
      },
    });
    await expect(gate).rejects.toThrow('listener bug');
    await waitFor(() => app.server.openConnections() === 0, { timeoutMs: 2000, intervalMs: 5, what: 'the hung attempt to be cut' });
  });
});
