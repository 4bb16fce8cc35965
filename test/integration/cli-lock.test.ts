/**
 * Deploy locks on a real etcd: `gantry lock acquire|release|status`, and `set-version` and
 * `deploy` refused to everyone but the holder, waiting with --lock-wait, a TTL ended by etcd.
 */
import { spawn, spawnSync } from 'node:child_process';
import { Etcd3 } from 'etcd3';
import { serviceEnv, waitFor } from '@gantry/testkit';
import { KeyLayout } from '@gantry/spec';
import { cliEnv, gantryBin, lastJson } from '../support/cli';
import { demoConfig } from '../support/demo-config';

const keys = new KeyLayout();
const project = `lock-${process.pid}`;
const etcd = new Etcd3({ hosts: serviceEnv().etcdEndpoints });
const common = ['--project', project, '--etcd', serviceEnv().etcdEndpoints.join(',')];
/** `gantry ARGS` as `who` (GANTRY_LOCK_HOLDER), to the end. */
const as = (who: string, ...args: string[]) => spawnSync(process.execPath, [gantryBin, ...args, ...common], { encoding: 'utf8', env: { ...cliEnv, GANTRY_LOCK_HOLDER: who }, timeout: 60_000 });
const fleetVersion = async () => JSON.parse((await etcd.get(keys.fleetDesired(project, 'web')).string()) ?? '{}').version as string | undefined;

beforeAll(async () => {
  await etcd.put(keys.config(project)).value(JSON.stringify(demoConfig(80)));
});
afterAll(async () => {
  await etcd.delete().prefix(keys.project(project));
  etcd.close();
});

describe('gantry lock', () => {
  it("refuses others' set-version and deploy while held, naming who, why and since when; the holder goes on", async () => {
    const acquired = as('alice', 'lock', 'acquire', project, '-m', 'release freeze', '--json');
    expect(acquired.status).toBe(0);
    expect(lastJson(acquired.stdout).lock).toMatchObject({ holder: 'alice', message: 'release freeze' });

    const set = as('bob', 'set-version', 'web', 'v2', '--all');
    expect(set.status).toBe(5);
    expect(set.stderr).toMatch(new RegExp(`web of ${project} is locked by alice since \\S+: "release freeze" \\(${keys.lock(project)}\\)`));
    expect(await fleetVersion()).toBeUndefined();
    const deploy = as('bob', 'deploy', project, 'web', '--tag', 'v2', '--no-wait', '--json');
    expect(deploy.status).toBe(5);
    expect(lastJson(deploy.stdout)).toMatchObject({ event: 'error', key: keys.lock(project), lock: { holder: 'alice' } });
    expect(await etcd.get(keys.rolloutRequest(project, 'web')).string()).toBeNull();
    // Not bob's to release, but alice's.
    expect(as('bob', 'lock', 'release', project).status).toBe(5);
    expect(as('alice', 'set-version', 'web', 'v2', '--all').status).toBe(0);
    expect(await fleetVersion()).toBe('v2');
    const status = as('bob', 'lock', 'status', project, '--json');
    expect(lastJson(status.stdout)).toMatchObject({ locked: true, locks: [{ key: keys.lock(project), holder: 'alice', message: 'release freeze' }] });
    expect(as('alice', 'lock', 'release', project).status).toBe(0);
    expect(lastJson(as('bob', 'lock', 'status', project, '--json').stdout).locked).toBe(false);
  });

  it('--lock-wait waits for the lock to go, then writes', async () => {
    expect(as('alice', 'lock', 'acquire', project, 'web', '-m', 'migrating').status).toBe(0);
    const started = Date.now();
    const bob = spawn(process.execPath, [gantryBin, 'set-version', 'web', 'v3', '--all', '--lock-wait', '30', ...common], { env: { ...cliEnv, GANTRY_LOCK_HOLDER: 'bob' } });
    const exit = new Promise<number | null>((resolve) => bob.once('exit', resolve));
    // bob is waiting: nothing written while alice holds it.
    await waitFor(() => Date.now() - started > 1_000, { timeoutMs: 5_000, intervalMs: 100, what: 'a second of waiting' });
    expect(await fleetVersion()).toBe('v2');
    const released = Date.now();
    expect(as('alice', 'lock', 'release', project, 'web').status).toBe(0);
    expect(await exit).toBe(0);
    console.log(`lock-wait: set-version wrote ${Date.now() - released} ms after the release`);
    expect(await fleetVersion()).toBe('v3');
  });

  it('a lock with a TTL is ended by etcd, with no one releasing it', async () => {
    expect(as('alice', 'lock', 'acquire', project, 'web', '-m', 'short', '--ttl', '2').status).toBe(0);
    expect(as('bob', 'set-version', 'web', 'v4', '--all').status).toBe(5);
    const since = Date.now();
    await waitFor(async () => (await etcd.get(keys.lock(project, 'web')).string()) === null, { timeoutMs: 15_000, intervalMs: 100, what: 'the lock to expire' });
    console.log(`lock TTL 2 s: gone after ${Date.now() - since} ms`);
    expect(as('bob', 'set-version', 'web', 'v4', '--all').status).toBe(0);
  });

  it('a value at a lock key that is no valid lock counts as held (named), until released with --force', async () => {
    await etcd.put(keys.lock(project)).value('{"holder": 7}');
    const set = as('bob', 'set-version', 'web', 'v5', '--all');
    expect(set.status).toBe(5);
    expect(set.stderr).toContain(`${keys.lock(project)} holds a value that is not a valid lock`);
    expect(as('bob', 'lock', 'release', project).status).toBe(5);
    expect(as('bob', 'lock', 'release', project, '--force').status).toBe(0);
    expect(as('bob', 'set-version', 'web', 'v5', '--all').status).toBe(0);
  });

  it('refuses what makes no lock: no message, a bad TTL (exit 2, nothing written)', async () => {
    expect(as('alice', 'lock', 'acquire', project).status).toBe(2);
    expect(as('alice', 'lock', 'acquire', project, '-m', 'x', '--ttl', '0').status).toBe(2);
    expect(await etcd.get(keys.lock(project)).string()).toBeNull();
  });
});
