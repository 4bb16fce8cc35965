/**
 * One zero-downtime update on one host, against real dockerd and HAProxy: the heart of Gantry.
 */
import { EngineError, updateComponent, type EngineEvent } from '@gantry/agent';
import { ensureDemoImages, httpGet, openStream, startLoad, waitFor } from '@gantry/testkit';
import { demoConfig } from '../support/demo-config';
import { localHost, type LocalHost } from '../support/local-host';

const PORT = 80;

beforeAll(() => ensureDemoImages(), 600_000);

describe('local update', () => {
  let host: LocalHost;
  beforeEach(async () => {
    host = await localHost();
  });
  afterEach(() => host.cleanup());

  it('moves v1 to v2 under load with no failed request; long requests finish on v1; a stream is closed at the drain deadline', async () => {
    const drainTimeout = 13_000;
    const config = demoConfig(PORT, { drainTimeout });
    await updateComponent(host.deps, host.ctx, { config, component: 'web', tag: 'v1' });
    expect((await httpGet(host.url(PORT, '/'))).version).toBe('v1');

    const load = startLoad({ url: host.url(PORT, '/'), connections: 8, rate: 300 });
    const slow = Array.from({ length: 5 }, () => httpGet(host.url(PORT, '/slow?ms=10000'), 30_000));
    const stream = await openStream(host.url(PORT, '/stream'));
    await waitFor(() => load.snapshot().ok > 200, { what: 'load to be flowing' });

    const events: EngineEvent[] = [];
    const summary = await updateComponent(host.deps, host.ctx, { config, component: 'web', tag: 'v2', onEvent: (e) => events.push(e) });
    const report = await load.stop();

    // Never drop a request: every one sent came back 2xx, dropped connections included.
    expect(report.samples).toEqual([]);
    expect(report.errors).toBe(0);
    expect(report.non2xx).toBe(0);
    expect(report.ok).toBe(report.sent);
    expect(report.rate).toBeGreaterThanOrEqual(200);
    expect(report.byVersion.v2).toBeGreaterThan(0);

    // The five long requests began on v1 and finished there.
    for (const r of await Promise.all(slow)) expect({ status: r.status, version: r.version }).toEqual({ status: 200, version: 'v1' });

    // The stream outlived the slow requests, was closed at the drain deadline, and that was reported.
    const closed = await stream.closed;
    const drainStarted = events.find((e) => e.type === 'drain-started');
    expect(drainStarted).toBeDefined();
    if (drainStarted?.type === 'drain-started') expect(closed.at).toBeGreaterThanOrEqual(drainStarted.deadline.getTime() - 500);
    expect(summary.retired).toEqual([expect.objectContaining({ drained: false, closedConnections: 1 })]);
    expect(events.some((e) => e.type === 'drain-progress' && e.liveConnections >= 6)).toBe(true);

    // Exactly one container of the component runs, and it is v2.
    const running = await host.containers();
    expect(running.map((c) => [c.version, c.state])).toEqual([['v2', 'running']]);
    expect(summary.container).toBe(running[0].id);
  });

  it('keeps v1 serving, untouched, when v2 never gets ready, and leaves no container behind', async () => {
    const config = demoConfig(PORT, { readyTimeout: 3_000 });
    await updateComponent(host.deps, host.ctx, { config, component: 'web', tag: 'v1' });
    const before = await host.containers();

    const load = startLoad({ url: host.url(PORT, '/'), connections: 4, rate: 200 });
    await waitFor(() => load.snapshot().ok > 50, { what: 'load to be flowing' });
    const failure = await updateComponent(host.deps, host.ctx, { config, component: 'web', tag: 'broken' }).catch((e: unknown) => e);
    const report = await load.stop();

    expect(failure).toBeInstanceOf(EngineError);
    expect((failure as EngineError).code).toBe('not-ready');
    expect((failure as EngineError).message).toMatch(/not ready within readyTimeout 3000 ms .*\/ready.*503/);
    expect((failure as EngineError).details.logs).toEqual(expect.stringContaining('listening'));
    expect({ errors: report.errors, non2xx: report.non2xx, samples: report.samples }).toEqual({ errors: 0, non2xx: 0, samples: [] });
    expect(report.byVersion).toEqual({ v1: report.ok });
    expect(await host.containers()).toEqual(before);
  });

  it('reports a tag that does not exist, and changes nothing', async () => {
    const config = demoConfig(PORT);
    await updateComponent(host.deps, host.ctx, { config, component: 'web', tag: 'v1' });
    const before = await host.containers();
    const failure = await updateComponent(host.deps, host.ctx, { config, component: 'web', tag: 'no-such-tag' }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(EngineError);
    expect((failure as EngineError).code).toBe('image');
    expect((failure as EngineError).message).toMatch(/demo-app:no-such-tag/);
    expect(await host.containers()).toEqual(before);
    expect((await httpGet(host.url(PORT, '/'))).version).toBe('v1');
  });

  it('reports a port that is already taken, and starts nothing', async () => {
    const blocker = await host.occupy(8081);
    try {
      const failure = await updateComponent(host.deps, host.ctx, { config: demoConfig(8081), component: 'web', tag: 'v1' }).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(EngineError);
      expect((failure as EngineError).code).toBe('proxy');
      expect((failure as EngineError).message).toMatch(/8081/);
      expect(await host.containers()).toEqual([]);
    } finally {
      blocker.close();
    }
  });

  it("gates on the image's own HEALTHCHECK (docker) and a command run inside the container (exec)", async () => {
    const config = demoConfig(PORT, {
      readyChecks: [
        { kind: 'docker', id: 'image-healthcheck' },
        { kind: 'exec', id: 'node-says-ok', command: ['/usr/bin/node', '/app/healthcheck.js'] },
      ],
    });
    const events: EngineEvent[] = [];
    const summary = await updateComponent(host.deps, host.ctx, { config, component: 'web', tag: 'v1', onEvent: (e) => events.push(e) });
    const passed = events.flatMap((e) => (e.type === 'ready-check' && e.result.ok ? [e.result.check] : []));
    expect(new Set(passed)).toEqual(new Set(['image-healthcheck', 'node-says-ok']));
    expect(events.some((e) => e.type === 'ready-check' && e.result.check === 'image-healthcheck' && !e.result.ok)).toBe(true); // "starting" first
    expect((await host.deps.runtime.inspect(summary.container))?.health).toBe('healthy');
  });

  it('does nothing when the right version already serves', async () => {
    const config = demoConfig(PORT);
    const first = await updateComponent(host.deps, host.ctx, { config, component: 'web', tag: 'v1' });
    const again = await updateComponent(host.deps, host.ctx, { config, component: 'web', tag: 'v1' });
    expect(again).toMatchObject({ unchanged: true, container: first.container, retired: [] });
  });
});
