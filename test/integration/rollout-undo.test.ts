/**
 * `gantry deploy --plan` and `gantry rollout undo` on three real gantryd (one dockerd, an HAProxy
 * each): a plan writes nothing and names what would block it (a lock: exit 5); an undo is a normal
 * rollout back to the version before the last successful one, refused while someone else holds
 * the lock (also shown in `gantry status`), and loses no request under load.
 */
import { spawn } from 'node:child_process';
import { rolloutHistoryEntrySchema } from '@gantry/spec';
import { ensureDemoImages, loadTotals, startLoad, waitFor } from '@gantry/testkit';
import { cliEnv, gantryBin, lastJson } from '../support/cli';
import { Fleet, keys } from '../support/fleet';

const HOSTS = 3;

/** `gantry ARGS` as `who` (GANTRY_LOCK_HOLDER), without blocking the test's load generators. */
function gantry(who: string, fleet: Fleet, ...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [gantryBin, ...args, '--project', fleet.project, ...fleet.cliArgs()], { env: { ...cliEnv, GANTRY_LOCK_HOLDER: who } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

beforeAll(() => ensureDemoImages(), 600_000);

describe('deploy --plan and rollout undo', () => {
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = Fleet.onServices('undo');
    await fleet.startServing(HOSTS, 'v1', { readyTimeout: 4_000, drainTimeout: 5_000 });
  }, 180_000);
  afterAll(() => fleet?.cleanup(), 120_000);

  const nothingWritten = async () => {
    expect(await fleet.etcd.get(keys.rolloutRequest(fleet.project, 'web')).string()).toBeNull();
    expect(JSON.parse((await fleet.etcd.get(keys.fleetDesired(fleet.project, 'web')).string())!).version).toBe('v1');
  };

  it('undo with no successful rollout in history is refused (exit 2), naming why', async () => {
    const undo = await gantry('bob', fleet, 'rollout', 'undo', fleet.project, 'web', '--no-wait');
    expect(undo.status).toBe(2);
    expect(undo.stderr).toMatch(/nothing to undo for web of .*no rollout of it has succeeded .*--to VERSION/);
    await nothingWritten();
  });

  it('--plan prints the batches, each host current → target, writes nothing; a lock blocks it (exit 5)', async () => {
    const plan = await gantry('bob', fleet, 'deploy', fleet.project, 'web', '--tag', 'v2', '--batch', '2', '--plan', '--json');
    expect(plan.status).toBe(0);
    const json = lastJson(plan.stdout);
    expect(json).toMatchObject({ ok: true, written: false, toVersion: 'v2', blockers: [] });
    expect(json.batches.map((b: { hosts: Array<{ id: string; current: { version: string }; target: { version: string }; changes: boolean }> }) => b.hosts.map((h) => [h.id, h.current.version, h.target.version, h.changes]))).toEqual([
      [
        ['h1', 'v1', 'v2', true],
        ['h2', 'v1', 'v2', true],
      ],
      [['h3', 'v1', 'v2', true]],
    ]);
    const human = await gantry('bob', fleet, 'deploy', fleet.project, 'web', '--tag', 'v2', '--batch', '2', '--plan');
    expect(human.stdout).toMatch(/2 batch\(es\), 3 host\(s\), 3 to update; nothing written/);
    expect(human.stdout).toMatch(/\n2\s+h3\s+v1 \(\w{12}\)\s+v2 \(\w{12}\)\s+update/);
    await nothingWritten();

    expect((await gantry('alice', fleet, 'lock', 'acquire', fleet.project, '-m', 'db migration')).status).toBe(0);
    const locked = await gantry('bob', fleet, 'deploy', fleet.project, 'web', '--tag', 'v2', '--plan', '--json');
    expect(locked.status).toBe(5);
    expect(lastJson(locked.stdout).blockers).toEqual([{ kind: 'locked', reason: expect.stringMatching(/locked by alice since \S+: "db migration"/) }]);
    // The holder's own plan is not blocked by its lock.
    expect((await gantry('alice', fleet, 'deploy', fleet.project, 'web', '--tag', 'v2', '--plan')).status).toBe(0);
    const status = await gantry('bob', fleet, 'status');
    expect(status.stdout).toMatch(/locked by alice since \S+: "db migration"/);
    expect(lastJson((await gantry('bob', fleet, 'status', '--json')).stdout).locks).toEqual([expect.objectContaining({ key: keys.lock(fleet.project), holder: 'alice', message: 'db migration' })]);
    expect((await gantry('alice', fleet, 'lock', 'release', fleet.project)).status).toBe(0);
    expect(lastJson((await gantry('bob', fleet, 'status', '--json')).stdout).locks).toEqual([]);
    await nothingWritten();

    // A host whose agent is gone: left out of the batches, named as a blocker (exit 1).
    await fleet.agents[2].kill('SIGTERM');
    await waitFor(async () => (await fleet.etcd.get(keys.registration(fleet.project, 'h3')).string()) === null, { timeoutMs: 30_000, what: "h3's registration to go" });
    const gone = await gantry('bob', fleet, 'deploy', fleet.project, 'web', '--tag', 'v2', '--plan', '--json');
    expect(gone.status).toBe(1);
    const goneJson = lastJson(gone.stdout);
    expect(goneJson.blockers).toEqual([{ host: 'h3', kind: 'not-registered', reason: expect.stringContaining('h3 is not registered') }]);
    expect(goneJson.batches.flatMap((b: { hosts: Array<{ id: string }> }) => b.hosts.map((h) => h.id))).toEqual(['h1', 'h2']);
    await fleet.restart(2);
    await fleet.converged('v1');
    await nothingWritten();
  }, 120_000);

  it('undo rolls back to the version before the last successful rollout, as a rollout, refused while locked, 0 failed under load', async () => {
    const deploy = await gantry('bob', fleet, 'deploy', fleet.project, 'web', '--tag', 'v2', '--batch', '2', '--json');
    expect(deploy.status).toBe(0);
    await fleet.converged('v2');

    const plan = await gantry('bob', fleet, 'rollout', 'undo', fleet.project, 'web', '--plan', '--json');
    expect(plan.status).toBe(0);
    const planned = lastJson(plan.stdout);
    expect(planned).toMatchObject({ written: false, toVersion: 'v1', undoes: { toVersion: 'v2', fromVersion: 'v1' } });
    expect(planned.batches.flatMap((b: { hosts: Array<{ current: { version: string } }> }) => b.hosts.map((h) => h.current.version))).toEqual(['v2', 'v2', 'v2']);

    expect((await gantry('alice', fleet, 'lock', 'acquire', fleet.project, 'web', '-m', 'incident 42')).status).toBe(0);
    const refused = await gantry('bob', fleet, 'rollout', 'undo', fleet.project, 'web');
    expect(refused.status).toBe(5);
    expect(refused.stderr).toMatch(/locked by alice since \S+: "incident 42"/);
    expect(await fleet.etcd.get(keys.rolloutRequest(fleet.project, 'web')).string()).toBeNull();
    expect((await gantry('alice', fleet, 'lock', 'release', fleet.project, 'web')).status).toBe(0);

    const loads = fleet.agents.map((_, i) => startLoad({ url: fleet.url(i), connections: 2, rate: 50 }));
    await waitFor(() => loads.every((l) => l.snapshot().ok > 10), { what: 'load to flow' });
    const started = Date.now();
    const undo = await gantry('bob', fleet, 'rollout', 'undo', fleet.project, 'web', '--batch', '1', '--json');
    const tookMs = Date.now() - started;
    await fleet.converged('v1');
    const totals = loadTotals(await Promise.all(loads.map((l) => l.stop())));
    console.log(`rollout undo v2 → v1 over ${HOSTS} hosts, batch 1: ${tookMs} ms, ${totals.sent} requests, ${totals.failed} failed`);
    expect(undo.status).toBe(0);
    const started_ = undo.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((l) => l.event === 'result' && l.undoes);
    expect(started_).toMatchObject({ toVersion: 'v1', undoes: { toVersion: 'v2', fromVersion: 'v1' } });
    expect(lastJson(undo.stdout)).toMatchObject({ state: 'succeeded', toVersion: 'v1' });
    expect(totals.failed).toBe(0);
    const entry = rolloutHistoryEntrySchema.parse(JSON.parse((await fleet.etcd.get(keys.rolloutHistory(fleet.project, 'web', started_.id)).string())!));
    expect(entry.state.hosts.map((h) => [h.id, h.batch, h.fromVersion, h.result])).toEqual([
      ['h1', 0, 'v2', 'done'],
      ['h2', 1, 'v2', 'done'],
      ['h3', 2, 'v2', 'done'],
    ]);
    expect(JSON.parse((await fleet.etcd.get(keys.fleetDesired(fleet.project, 'web')).string())!).version).toBe('v1');

    // --to names any version; the next undo without it goes back over the undo (to v2).
    const next = await gantry('bob', fleet, 'rollout', 'undo', fleet.project, 'web', '--plan', '--json');
    expect(lastJson(next.stdout)).toMatchObject({ toVersion: 'v2', undoes: { toVersion: 'v1', fromVersion: 'v2' } });
    const to = await gantry('bob', fleet, 'rollout', 'undo', fleet.project, 'web', '--to', 'v3', '--plan', '--json');
    expect(lastJson(to.stdout)).toMatchObject({ toVersion: 'v3', written: false });
    expect(lastJson(to.stdout).undoes).toBeUndefined();
  }, 240_000);
});
