/**
 * `gantry maintenance on|off` on two real gantryd hosts (one HAProxy each, one dockerd, etcd): the
 * selected hosts' HTTP frontend answers 503 with the message (HTML, or JSON when asked) while the
 * containers stay as they are and TCP ports keep serving; `off` restores traffic with 0 failed
 * requests; invalid values are reported and change nothing; a restarted agent keeps it; `--hold`.
 */
import http from 'node:http';
import { agentStatusSchema } from '@gantry/spec';
import { ensureDemoImages, startLoad, waitFor, type LoadReport } from '@gantry/testkit';
import { Fleet, FLEET_PORT, keys } from '../support/fleet';
import { lastJson, runGantryAsync } from '../support/cli';

const TCP_PORT = 8081;

/** One GET on a fresh connection: status, content type and body, and how long it took. */
function get(url: string, accept = '*/*', timeoutMs = 30_000): Promise<{ status: number; type: string; body: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs, headers: { accept } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body, ms: Date.now() - started }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no response from ${url} within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** Only 503s (maintenance) among the failures, and no connection error. */
const only503 = (r: LoadReport) => ({ errors: r.errors, other: r.samples.filter((s) => !/HTTP 503/.test(s)) });
const figures = (r: LoadReport) => ({ sent: r.sent, ok: r.ok, non2xx: r.non2xx, errors: r.errors, rate: r.rate });

beforeAll(() => ensureDemoImages(), 600_000);

describe('gantry maintenance on two hosts', () => {
  let fleet: Fleet;
  const gantry = async (...args: string[]) => runGantryAsync([...args, '--project', fleet.project, ...fleet.cliArgs()]);
  const tcpUrl = (i: number) => `http://${fleet.agents[i].spec.bindAddress}:${TCP_PORT}/`;
  const ids = async (i: number) => (await fleet.containers(i)).map((c) => c.id).sort();
  const agentProblems = async (i: number) => {
    const text = await fleet.etcd.get(keys.agent(fleet.project, fleet.agents[i].spec.hostId)).string();
    return text === null ? [] : agentStatusSchema.parse(JSON.parse(text)).problems;
  };

  beforeAll(async () => {
    fleet = Fleet.onServices('maint');
    await fleet.start(2, {
      ports: [
        { external: FLEET_PORT, container: 8080, kind: 'http' },
        { external: TCP_PORT, container: 8080, kind: 'tcp' },
      ],
    });
    await fleet.setFleetVersion('v1');
    await fleet.converged('v1');
  }, 180_000);
  afterAll(() => fleet?.cleanup(), 120_000);

  it('on --hosts h1 under load: h1 answers 503 with the message (HTML and JSON), h2 and TCP serve, containers stay; off restores with 0 failed', async () => {
    const containersBefore = [await ids(0), await ids(1)];
    const h1 = startLoad({ url: fleet.url(0), connections: 2, rate: 50 });
    const h2 = startLoad({ url: fleet.url(1), connections: 2, rate: 50 });
    const tcp = startLoad({ url: tcpUrl(0), connections: 2, rate: 50 });
    await waitFor(() => [h1, h2, tcp].every((l) => l.snapshot().ok > 10), { what: 'load to flow' });

    const message = 'Back at 10:00 <b>soon</b> & "then" some';
    const on = await gantry('maintenance', 'on', fleet.project, 'web', '--hosts', 'h1', '-m', message, '--json');
    expect({ status: on.status, stderr: on.stderr }).toEqual({ status: 0, stderr: '' });
    const result = lastJson(on.stdout);
    expect(result).toMatchObject({ event: 'result', ok: true, on: true, applied: true, key: keys.maintenance(fleet.project, 'web'), maintenance: { message, hosts: { ids: ['h1'] } } });
    expect(result.maintenance.by).toMatch(/.@./);
    expect(result.hosts.map((h: { host: string; selected: boolean; done: boolean }) => [h.host, h.selected, h.done])).toEqual([
      ['h1', true, true],
      ['h2', false, true],
    ]);

    const html = await get(fleet.url(0), 'text/html');
    expect(html).toMatchObject({ status: 503, type: 'text/html; charset=utf-8' });
    expect(html.body).toContain('Back at 10:00 &lt;b&gt;soon&lt;/b&gt; &amp; &quot;then&quot; some');
    const json = await get(fleet.url(0), 'application/json');
    expect(json).toMatchObject({ status: 503, type: 'application/json' });
    expect(JSON.parse(json.body)).toEqual({ error: 'maintenance', message });
    expect((await get(fleet.url(1))).status).toBe(200);
    expect((await get(tcpUrl(0))).status).toBe(200);

    expect((await fleet.status(0))?.maintenance).toEqual({ message, since: result.maintenance.since, httpPorts: [FLEET_PORT], tcpPorts: [TCP_PORT] });
    expect((await fleet.status(1))?.maintenance).toBeUndefined();
    const status = await gantry('maintenance', 'status', fleet.project, 'web', '--json');
    expect(lastJson(status.stdout)).toMatchObject({ on: true, maintenance: { message }, hosts: [{ host: 'h1', applied: { httpPorts: [FLEET_PORT] } }, { host: 'h2', selected: false }] });
    const human = await gantry('maintenance', 'status', fleet.project, 'web');
    expect(human.stdout).toMatch(/h1 +answers 503 on http 80; tcp 8081 left serving/);
    // `gantry status` shows it on h1's row.
    const fleetStatus = await gantry('status', '--json');
    expect(fleetStatus.stdout).toContain('"maintenance"');

    const off = await gantry('maintenance', 'off', fleet.project, 'web', '--json');
    expect({ status: off.status, stderr: off.stderr }).toEqual({ status: 0, stderr: '' });
    expect(lastJson(off.stdout)).toMatchObject({ ok: true, on: false, changed: true, applied: true });
    // Every host applied the off before the verb returned: from now on, nothing fails.
    const after = startLoad({ url: fleet.url(0), connections: 4, rate: 100 });
    await waitFor(() => after.snapshot().ok > 150, { what: 'load after off' });
    const [r1, r2, rt, ra] = await Promise.all([h1, h2, tcp, after].map((l) => l.stop()));
    console.log(`maintenance on h1 then off: ${JSON.stringify({ h1: figures(r1), h2: figures(r2), tcp: figures(rt), h1AfterOff: figures(ra) })}`);
    expect(only503(r1)).toEqual({ errors: 0, other: [] });
    expect(r1.non2xx).toBeGreaterThan(0);
    expect({ failed: r2.errors + r2.non2xx, samples: r2.samples }).toEqual({ failed: 0, samples: [] });
    expect({ failed: rt.errors + rt.non2xx, samples: rt.samples }).toEqual({ failed: 0, samples: [] });
    expect({ failed: ra.errors + ra.non2xx, samples: ra.samples }).toEqual({ failed: 0, samples: [] });
    expect((await fleet.status(0))?.maintenance).toBeUndefined();
    expect([await ids(0), await ids(1)]).toEqual(containersBefore);
  }, 120_000);

  it('refuses bad input with exit 2, writing nothing', async () => {
    for (const args of [['--hosts', ','], ['--hold', '0'], ['--hold', '500'], ['-m', ' '], ['--wait', '-1']]) {
      const r = await gantry('maintenance', 'on', fleet.project, 'web', ...args);
      expect({ args, status: r.status }).toEqual({ args, status: 2 });
      expect(r.stderr).toMatch(/^error: /);
    }
    const unknown = await gantry('maintenance', 'on', fleet.project, 'nope');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/component "nope" is not in the stored config/);
    expect(await fleet.etcd.getAll().prefix(keys.maintenancePrefix(fleet.project)).keys()).toEqual([]);
  });

  it('an invalid value under maintenance/ is reported in the agent record, naming the key, and changes nothing', async () => {
    const key = keys.maintenance(fleet.project, 'web');
    await fleet.etcd.put(key).value('{"message": "half');
    await waitFor(async () => (await agentProblems(0)).some((p) => p.key === key), { what: 'h1 to report the invalid key' });
    expect((await agentProblems(1)).find((p) => p.key === key)?.reason).toMatch(/web answers as it did/);
    expect((await get(fleet.url(0))).status).toBe(200);

    // On, then broken: it stays on (the last good state), until fixed or deleted.
    expect((await gantry('maintenance', 'on', fleet.project, 'web', '-m', 'kept')).status).toBe(0);
    const stray = `${keys.maintenancePrefix(fleet.project)}Not A Name`;
    await fleet.etcd.put(key).value('[]');
    await fleet.etcd.put(stray).value('x');
    await waitFor(async () => (await agentProblems(0)).some((p) => p.key === stray), { what: 'h1 to report the stray key' });
    expect((await agentProblems(0)).map((p) => p.key).sort()).toEqual([stray, key].sort());
    expect((await get(fleet.url(0))).status).toBe(503);
    expect((await fleet.status(0))?.maintenance?.message).toBe('kept');
    const status = await gantry('maintenance', 'status', fleet.project, 'web', '--json');
    expect(lastJson(status.stdout)).toMatchObject({ on: false, problem: expect.any(String) });

    await fleet.etcd.delete().key(stray);
    const off = await gantry('maintenance', 'off', fleet.project, 'web', '--json');
    expect(lastJson(off.stdout)).toMatchObject({ ok: true, changed: true, applied: true });
    expect((await get(fleet.url(0))).status).toBe(200);
    await waitFor(async () => (await agentProblems(0)).length === 0, { what: 'h1 to clear its problems' });
  }, 60_000);

  it('a restarted agent keeps maintenance on; an off while it was down applies when it is back', async () => {
    expect((await gantry('maintenance', 'on', fleet.project, 'web', '-m', 'restart-safe')).status).toBe(0);
    const since = (await fleet.status(0))?.maintenance?.since;
    await fleet.agents[0].kill('SIGKILL');
    // HAProxy outlives its agent, with the maps it had.
    expect((await get(fleet.url(0))).status).toBe(503);
    await fleet.restart(0);
    const restartedAt = Date.now();
    // The restarted agent's first status already says what its proxy answers.
    const first = await waitFor(async () => {
      const s = await fleet.status(0);
      return s && Date.parse(s.updatedAt) >= restartedAt - 1_000 ? s : undefined;
    }, { what: 'a status from the restarted h1' });
    expect(first.maintenance).toMatchObject({ message: 'restart-safe', since });
    expect((await get(fleet.url(0))).status).toBe(503);

    // Off while h1's agent is down: h1 keeps answering 503 until its agent is back, then serves.
    await fleet.agents[0].kill('SIGKILL');
    const off = await gantry('maintenance', 'off', fleet.project, 'web', '--no-wait', '--json');
    expect(lastJson(off.stdout)).toMatchObject({ ok: true, changed: true });
    expect((await get(fleet.url(1))).status).toBe(200);
    expect((await get(fleet.url(0))).status).toBe(503);
    await fleet.restart(0);
    await waitFor(async () => (await get(fleet.url(0))).status === 200, { what: 'h1 to serve after its restart', timeoutMs: 30_000 });
    await waitFor(async () => (await fleet.status(0))?.maintenance === undefined, { what: "h1's status to drop maintenance" });
    await fleet.converged('v1');
  }, 120_000);

  it('--hold: requests are held, not answered; an off within the hold serves every one of them (0 failed)', async () => {
    const on = await gantry('maintenance', 'on', fleet.project, 'web', '--hosts', 'h1', '--hold', '20', '--json');
    expect(lastJson(on.stdout)).toMatchObject({ ok: true, applied: true, maintenance: { holdSeconds: 20 } });
    expect((await fleet.status(0))?.maintenance?.holdSeconds).toBe(20);
    const load = startLoad({ url: fleet.url(0), connections: 8, rate: 100, timeoutMs: 30_000 });
    const held = Array.from({ length: 10 }, () => get(fleet.url(0)));
    let answered = 0;
    for (const h of held) void h.then(() => answered++);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(answered).toBe(0);
    expect(load.snapshot().ok + load.snapshot().non2xx).toBe(0);
    const off = await gantry('maintenance', 'off', fleet.project, 'web', '--json');
    expect(lastJson(off.stdout)).toMatchObject({ ok: true, applied: true });
    const replies = await Promise.all(held);
    await waitFor(() => load.snapshot().ok > 100, { what: 'load after off' });
    const report = await load.stop();
    console.log(`hold 20 s, off after ~1.5 s: ${JSON.stringify({ held: replies.length, statuses: [...new Set(replies.map((r) => r.status))], slowestMs: Math.max(...replies.map((r) => r.ms)), load: figures(report) })}`);
    expect(replies.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect({ failed: report.errors + report.non2xx, samples: report.samples }).toEqual({ failed: 0, samples: [] });
  }, 60_000);
});
