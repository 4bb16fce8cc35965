/**
 * Three real gantryd agents on one machine — each its own host id, loopback address and HAProxy,
 * sharing the one dockerd — converging to what etcd says, reporting status, surviving garbage
 * values, a SIGKILL, and etcd itself going away.
 */
import type { ComponentStatus } from '@gantry/spec';
import { ensureDemoImages, httpGet, OwnEtcd, startLoad, waitFor, type LoadRun } from '@gantry/testkit';
import { demoConfig } from '../support/demo-config';
import { Fleet, FLEET_PORT, keys } from '../support/fleet';
import { runGantry } from '../support/cli';

const expectNoLoss = (report: Awaited<ReturnType<LoadRun['stop']>>) =>
  expect({ errors: report.errors, non2xx: report.non2xx, samples: report.samples }).toEqual({ errors: 0, non2xx: 0, samples: [] });

beforeAll(() => ensureDemoImages(), 600_000);

describe('three agents on the shared etcd', () => {
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = Fleet.onServices();
    await fleet.start(3, { drainTimeout: 15_000 });
  });
  afterAll(() => fleet.cleanup());

  it('converge every host to the version set for the fleet, and report it', async () => {
    await fleet.setFleetVersion('v1');
    await fleet.converged('v1');
    for (let i = 0; i < 3; i++) expect((await httpGet(fleet.url(i))).version).toBe('v1');

    const status = runGantry(['status', '--json', '--project', fleet.project, ...fleet.cliArgs()]);
    expect(status.status).toBe(0);
    const rows = (JSON.parse(status.stdout.trim().split('\n').pop()!) as { rows: Array<{ host: string; component: string | null; status: ComponentStatus | null }> }).rows;
    expect(rows.filter((r) => r.component === 'web').map((r) => [r.host, r.status?.phase, r.status?.version])).toEqual([
      ['h1', 'running', 'v1'],
      ['h2', 'running', 'v1'],
      ['h3', 'running', 'v1'],
    ]);
    const registered = await fleet.etcd.getAll().prefix(keys.hostsPrefix(fleet.project)).keys();
    expect(registered.filter((k) => k.endsWith('/registration')).sort()).toEqual(['h1', 'h2', 'h3'].map((h) => keys.registration(fleet.project, h)));
  });

  it('report invalid values where the operator looks, and keep serving', async () => {
    const load = startLoad({ url: fleet.url(0), connections: 2, rate: 100 });
    const hostKey = keys.hostDesired(fleet.project, 'h1', 'web');
    await fleet.etcd.put(hostKey).value('{"version": v2');
    await waitFor(async () => (await fleet.status(0))?.lastError?.key === hostKey, { what: 'the invalid host key in h1 status' });
    expect((await fleet.status(0))!.lastError!.reason).toMatch(/not valid JSON/);

    await fleet.etcd.put(keys.config(fleet.project)).value('{"components": [{"name": "web"}]}');
    await waitFor(
      async () => {
        const text = await fleet.etcd.get(keys.agent(fleet.project, 'h2')).string();
        return text !== null && (JSON.parse(text) as { problems: Array<{ key: string; reason: string }> }).problems.some((p) => p.key === keys.config(fleet.project) && /components\[0\]\.repo/.test(p.reason));
      },
      { what: 'the invalid config in h2 agent status' },
    );
    for (let i = 0; i < 3; i++) expect((await httpGet(fleet.url(i))).version).toBe('v1');
    expect(fleet.agents.every((a) => a.running)).toBe(true);
    expectNoLoss(await load.stop());

    // Fixed again, everything carries on.
    await fleet.etcd.delete().key(hostKey);
    await fleet.etcd.put(keys.config(fleet.project)).value(JSON.stringify(demoConfig(FLEET_PORT, { drainTimeout: 15_000 })));
    await waitFor(async () => (await fleet.status(0))?.lastError === undefined, { what: 'h1 error to clear' });
  });

  it('replaces a container that fails its health checks, through the zero-downtime path, and reports it', async () => {
    const before = (await fleet.containers(1))[0];
    const load = startLoad({ url: fleet.url(1), connections: 2, rate: 100 });
    const port = before.hostPorts[8080];
    const res = await fetch(`http://${port.host}:${port.port}/admin/fail-health`, { method: 'POST', signal: AbortSignal.timeout(2_000) });
    expect(res.status).toBe(200);
    await waitFor(async () => (await fleet.status(1))?.health?.state === 'unhealthy', { what: 'h2 to report the container unhealthy', timeoutMs: 30_000 });
    await waitFor(
      async () => {
        const now = await fleet.containers(1);
        const s = await fleet.status(1);
        return now.length === 1 && now[0].id !== before.id && s?.phase === 'running' && s.health?.state === 'healthy';
      },
      { what: `h2 to replace its unhealthy container\n${fleet.agents[1].tail()}`, timeoutMs: 60_000 },
    );
    expectNoLoss(await load.stop());
  });

  it('an agent SIGKILLed mid-update converges when restarted, with no request lost and no orphan', async () => {
    const load = startLoad({ url: fleet.url(0), connections: 4, rate: 200 });
    const slow = httpGet(fleet.url(0, '/slow?ms=3000'), 30_000);
    await waitFor(() => load.snapshot().ok > 50, { what: 'load to flow' });
    await fleet.setFleetVersion('v2');
    await waitFor(async () => (await fleet.status(0))?.phase === 'draining', { what: 'h1 to be draining', timeoutMs: 30_000 });
    await fleet.agents[0].kill('SIGKILL');
    await fleet.restart(0); // once its registration has expired: a second gantryd for h1 is refused before
    await fleet.converged('v2');
    expectNoLoss(await load.stop());
    expect(await slow).toMatchObject({ status: 200, version: 'v1' });
    for (let i = 0; i < 3; i++) {
      const running = await fleet.containers(i);
      expect(running.map((c) => [c.version, c.state])).toEqual([['v2', 'running']]);
    }
  });
});

describe('three agents when etcd goes away', () => {
  const etcd = new OwnEtcd();
  let fleet: Fleet;
  beforeAll(async () => {
    await etcd.start();
    fleet = new Fleet([etcd.endpoint]);
    await fleet.start(3, { drainTimeout: 15_000 });
    await fleet.setFleetVersion('v1');
    await fleet.converged('v1');
  });
  afterAll(async () => {
    await etcd.start().catch(() => undefined);
    await fleet.cleanup();
    await etcd.destroy();
  });

  it('keep serving while etcd is down for 20 s, and apply a version change made after it is back', async () => {
    const loads = [0, 1, 2].map((i) => startLoad({ url: fleet.url(i), connections: 2, rate: 100 }));
    await etcd.kill();
    const downSince = Date.now();
    // 20 s without etcd, with traffic flowing to every host the whole time.
    await waitFor(() => Date.now() - downSince >= 20_000 && loads.every((l) => l.snapshot().ok > 0), { timeoutMs: 40_000, intervalMs: 500, what: '20 s of etcd outage' });
    expect(fleet.agents.every((a) => a.running)).toBe(true);
    await etcd.start();

    await fleet.setFleetVersion('v2');
    await fleet.converged('v2', 90_000);
    for (const load of loads) expectNoLoss(await load.stop());
  });
});
