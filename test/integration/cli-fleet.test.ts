/**
 * The etcd verbs of the gantry CLI (config, hosts, set-version, status) as an operator runs them:
 * the built binary against the real etcd, with a project of its own whose keys are removed after.
 * Hosts are faked by writing their registration and status keys directly, as an agent would.
 * Runs the built binary: build with `npx tsc -b` first (`npm test` does).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Etcd3, type IKeyValue } from 'etcd3';
import { KeyLayout } from '@gantry/spec';
import { serviceEnv, waitFor } from '@gantry/testkit';
import { cliEnv, gantryBin, runGantry } from '../support/cli';

const env = serviceEnv();
const endpoint = env.etcdEndpoints[0];
const project = `it-${randomBytes(4).toString('hex')}`;
const keys = new KeyLayout();
const etcd = new Etcd3({ hosts: env.etcdEndpoints });
const dir = mkdtempSync(join(tmpdir(), 'gantry-cli-fleet-'));

// The settings of whoever runs the tests must not leak into the binary.
const run = (args: string[]) => runGantry(args, 30_000);
/** gantry with this test's project and etcd. */
const gantry = (...args: string[]) => run([...args, '--project', project, '--etcd', endpoint]);
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!);
const get = (key: string) => etcd.get(key).string();

const iso = (offsetMs = 0) => new Date(Date.now() + offsetMs).toISOString();
const registration = (host: string) => JSON.stringify({ hostId: host, address: `10.1.0.${host.length}`, labels: { zone: 'z1' }, agentVersion: '9.9.9', startedAt: iso(-60_000) });
const status = (fields: Record<string, unknown>) => JSON.stringify({ phase: 'running', version: 'v1', updatedAt: iso(), ...fields });

const config = {
  components: [
    { name: 'web', repo: `${env.registry}/gantry/demo-app`, tag: 'v1', ports: [{ external: 18080, container: 8080, kind: 'http' }] },
    { name: 'api', repo: `${env.registry}/gantry/demo-app`, tag: 'v1' },
  ],
};
const goodFile = join(dir, 'good.json');
writeFileSync(goodFile, JSON.stringify(config));
const badFile = join(dir, 'bad.json');
writeFileSync(badFile, JSON.stringify({ components: [{ name: 'web', repo: 'x', ports: [{ external: 'eighty', container: 8080 }], readyTimeot: 5 }, { name: 'api', repo: 'has space' }] }));

afterAll(async () => {
  await etcd.delete().prefix(keys.project(project));
  etcd.close();
});

describe('gantry config', () => {
  it('validate checks a file without etcd', () => {
    const ok = run(['config', 'validate', goodFile]);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/valid: 2 component\(s\): web, api/);
    const bad = run(['config', 'validate', badFile, '--json']);
    expect(bad.status).toBe(2);
    expect(lastJson(bad.stdout).problems.map((p: { path: string }) => p.path)).toEqual(expect.arrayContaining(['components[0].ports[0].external', 'components[0]', 'components[1].repo']));
  });

  it('validate warns, naming the field, about what hosts under the default policy refuse and about secrets kept in plain text', () => {
    const risky = join(dir, 'risky.json');
    writeFileSync(risky, JSON.stringify({ components: [{ name: 'web', repo: 'quay.io/org/web', privileged: true, bindings: [{ external: '/var/run/docker.sock', volume: '/sock' }], environmentVariables: [{ name: 'DB_PASSWORD', value: 'hunter2' }] }] }));
    const r = run(['config', 'validate', risky, '--json']);
    expect(r.status).toBe(0); // valid: a host's own policy may allow it
    expect(lastJson(r.stdout).warnings.map((w: { path: string }) => w.path)).toEqual(['components[0].privileged', 'components[0].bindings[0].external', 'components[0].environmentVariables[0]']);
    expect(run(['config', 'validate', goodFile, '--json']).stdout).toContain('"warnings":[]');
  });

  it('set rejects an invalid file with every problem and its path, exit 2, writing nothing', async () => {
    const bad = gantry('config', 'set', badFile);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain(`${badFile} is invalid`);
    expect(bad.stderr).toContain('components[0].ports[0].external');
    expect(bad.stderr).toContain('readyTimeot');
    expect(bad.stderr).toContain('components[1].repo');
    expect(await get(keys.config(project))).toBeNull();
  });

  it('get of a project without a config names the key, exit 2', () => {
    const missing = gantry('config', 'get');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain(keys.config(project));
  });

  it('set stores the file pretty-printed at the config key; get prints it', async () => {
    const set = gantry('config', 'set', goodFile, '--json');
    expect(set.status).toBe(0);
    expect(lastJson(set.stdout)).toMatchObject({ event: 'result', ok: true, key: keys.config(project), changed: true, components: ['web', 'api'] });
    expect(await get(keys.config(project))).toBe(`${JSON.stringify(config, null, 2)}\n`);

    const shown = gantry('config', 'get');
    expect(shown.status).toBe(0);
    expect(JSON.parse(shown.stdout)).toEqual(config);
    const json = gantry('config', 'get', '--json');
    expect(lastJson(json.stdout)).toMatchObject({ key: keys.config(project), valid: true, config });

    const again = gantry('config', 'set', goodFile, '--json');
    expect(lastJson(again.stdout)).toMatchObject({ ok: true, changed: false });
  });
});

describe('hosts and status', () => {
  const invalidKey = keys.status(project, 'h1', 'api');
  beforeAll(async () => {
    await etcd.put(keys.registration(project, 'h1')).value(registration('h1'));
    await etcd.put(keys.registration(project, 'h3')).value(registration('h3'));
    await etcd.put(keys.status(project, 'h1', 'web')).value(status({ phase: 'draining', targetVersion: 'v2', drain: { container: 'c1', connectionsLeft: 2, deadline: iso(60_000) } }));
    await etcd.put(invalidKey).value('{"phase": "exploded", "updatedAt": 12'); // garbage from other tooling
    await etcd.put(keys.status(project, 'h2', 'web')).value(status({})); // h2's agent is gone
    await etcd.put(keys.agent(project, 'h1')).value(JSON.stringify({ agentVersion: '9.9.9', problems: [{ key: keys.config(project), reason: 'invalid config: bad', at: iso() }], updatedAt: iso() }));
  });

  it('hosts lists the registered hosts', () => {
    const table = gantry('hosts');
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(/HOST\s+ADDRESS\s+LABELS\s+AGENT VERSION\s+STARTED/);
    expect(table.stdout).toMatch(/h1\s+10\.1\.0\.2\s+zone=z1\s+9\.9\.9\s+\d+s ago/);
    const json = lastJson(gantry('hosts', '--json').stdout);
    expect(json.hosts.map((h: { hostId: string }) => h.hostId)).toEqual(['h1', 'h3']);
    // h2 is gone: a status left, no registration.
    expect(json.gone).toEqual([{ host: 'h2', lastStatusAt: expect.any(String), statuses: ['web'], agent: false, pins: [] }]);
    expect(table.stdout).toMatch(/gone \(keys left, no registration[^\n]*\n\s*HOST\s+LAST STATUS\s+KEYS LEFT\s*\n\s*h2\s+\d+s ago\s+status: web/);
  });

  it('status shows every host and component, gone hosts, hosts without status, agent problems, and invalid values as errors naming the key', () => {
    const res = gantry('status', '--json');
    expect(res.status).toBe(0);
    const { rows } = lastJson(res.stdout);
    const row = (host: string, component: string | null, kind?: string) => rows.find((r: { host: string; component: string | null; kind: string }) => r.host === host && r.component === component && (!kind || r.kind === kind));
    expect(row('h1', 'web')).toMatchObject({ kind: 'component', registered: true, status: { phase: 'draining', version: 'v1', targetVersion: 'v2', drain: { connectionsLeft: 2 } } });
    expect(row('h1', 'api')).toMatchObject({ kind: 'invalid', key: invalidKey, status: null, error: { key: invalidKey, reason: expect.stringMatching(/invalid status value/) } });
    expect(row('h2', 'web')).toMatchObject({ kind: 'component', registered: false });
    expect(row('h3', null)).toMatchObject({ kind: 'no-status', registered: true });
    expect(row('h1', null, 'agent')).toMatchObject({ key: keys.agent(project, 'h1'), error: { key: keys.config(project), reason: 'invalid config: bad' } });

    const table = gantry('status');
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(/h1\s+web\s+v1 → v2\s+draining\s+-\s+2 conns, \d+s left/);
    expect(table.stdout).toMatch(/h2 \(gone\)\s+web/);
    expect(table.stdout).toMatch(/h3\s+-\s+-\s+no status yet/);
    expect(table.stdout).toContain(`(key ${invalidKey})`);
  });

  it('status --watch --json prints a status change written after it started, and exits 0 on SIGINT', async () => {
    const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [gantryBin, 'status', '--watch', '--json', '--project', project, '--etcd', endpoint], { env: cliEnv });
    const lines: Array<Record<string, any>> = [];
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    createInterface({ input: child.stdout }).on('line', (line) => lines.push(JSON.parse(line)));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor(() => lines.some((l) => l.host === 'h1' && l.component === 'web'), { what: 'the initial rows', timeoutMs: 15_000 });
      await etcd.put(keys.status(project, 'h1', 'web')).value(status({ phase: 'switching', version: 'v1', targetVersion: 'v2' }));
      const change = await waitFor(() => lines.find((l) => l.host === 'h1' && l.component === 'web' && l.status?.phase === 'switching'), { what: 'the change', timeoutMs: 15_000 });
      expect(change).toMatchObject({ event: 'change', kind: 'component', status: { targetVersion: 'v2' } });
      await etcd.delete().key(invalidKey);
      await waitFor(() => lines.find((l) => l.host === 'h1' && l.component === 'api' && l.removed), { what: 'the removal', timeoutMs: 15_000 });
    } finally {
      child.kill('SIGINT');
    }
    expect({ code: await exited, stderr }).toMatchObject({ code: 0 }); // stderr shows in a failure
  });
});

describe('gantry set-version', () => {
  const web = (host: string) => keys.hostDesired(project, host, 'web');

  it('--host writes the host key of each named host', async () => {
    const res = gantry('set-version', 'web', 'v2', '--host', 'h1', '--json');
    expect(res.status).toBe(0);
    expect(lastJson(res.stdout)).toMatchObject({ ok: true, wrote: [web('h1')], deleted: [] });
    const value = JSON.parse((await get(web('h1')))!);
    expect(value).toEqual({ version: 'v2', setBy: expect.stringMatching(/^.+@.+$/), setAt: expect.any(String), configHash: expect.stringMatching(/^[a-f0-9]{12}$/) });
    expect(Math.abs(Date.parse(value.setAt) - Date.now())).toBeLessThan(60_000);
    expect(await get(keys.fleetDesired(project, 'web'))).toBeNull();
  });

  it('refuses unknown hosts (unless --force), unknown components and bad tags, with exit 2, writing nothing', async () => {
    const unknown = gantry('set-version', 'web', 'v2', '--host', 'h1', '--host', 'h9');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown host h9/);
    expect(await get(web('h9'))).toBeNull();

    const component = gantry('set-version', 'nope', 'v2', '--all');
    expect(component.status).toBe(2);
    expect(component.stderr).toContain(`component "nope" is not in the stored config of ${project} (${keys.config(project)}); it has: web, api`);

    const tag = gantry('set-version', 'web', 'bad:tag', '--all');
    expect(tag.status).toBe(2);
    expect(tag.stderr).toMatch(/"bad:tag" is not a valid Docker tag/);
    expect(await get(keys.fleetDesired(project, 'web'))).toBeNull();

    const neither = gantry('set-version', 'web', 'v2');
    expect(neither.status).toBe(2);

    const forced = gantry('set-version', 'web', 'v2', '--host', 'h9', '--force', '--stop');
    expect(forced.status).toBe(0);
    expect(JSON.parse((await get(web('h9')))!)).toMatchObject({ version: 'v2', state: 'stopped' });
  });

  it('--all writes the fleet key and deletes the host keys of that component in one transaction', async () => {
    await etcd.put(keys.hostDesired(project, 'h1', 'api')).value(JSON.stringify({ version: 'v7' })); // another component's pin stays
    const events: Array<{ type: string; kv: IKeyValue }> = [];
    const watcher = await etcd.watch().prefix(keys.project(project)).create();
    watcher.on('put', (kv) => events.push({ type: 'put', kv }));
    watcher.on('delete', (kv) => events.push({ type: 'delete', kv }));
    try {
      const res = gantry('set-version', 'web', 'v3', '--all', '--json');
      expect(res.status).toBe(0);
      const result = lastJson(res.stdout);
      expect(result).toMatchObject({ ok: true, wrote: [keys.fleetDesired(project, 'web')], deleted: [web('h1'), web('h9')] });
      await waitFor(() => events.length >= 3, { what: 'the watch events of the transaction', timeoutMs: 10_000 });
      expect(events.map((e) => [e.type, e.kv.key.toString()]).sort()).toEqual([
        ['delete', web('h1')],
        ['delete', web('h9')],
        ['put', keys.fleetDesired(project, 'web')],
      ]);
      // One transaction: every change carries the same revision, the one the CLI reports.
      expect(new Set(events.map((e) => String(e.kv.mod_revision)))).toEqual(new Set([result.revision]));
    } finally {
      await watcher.cancel();
    }
    expect(JSON.parse((await get(keys.fleetDesired(project, 'web')))!)).toMatchObject({ version: 'v3' });
    expect(await get(web('h1'))).toBeNull();
    expect(await get(keys.hostDesired(project, 'h1', 'api'))).not.toBeNull();
  });
});

describe('etcd unreachable', () => {
  it('fails with exit code 3 in seconds, naming the endpoint', () => {
    for (const args of [['status'], ['config', 'set', goodFile], ['set-version', 'web', 'v2', '--all', '--json']]) {
      const started = Date.now();
      const res = run([...args, '--project', project, '--etcd', 'http://127.0.0.1:1']);
      expect({ args, status: res.status }).toEqual({ args, status: 3 });
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(res.stdout + res.stderr).toContain('http://127.0.0.1:1');
    }
  });
});
