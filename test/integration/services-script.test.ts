/**
 * scripts/services.sh as an operator uses it: `up` is idempotent, `status --json` tells what runs,
 * `down` stops what it started and leaves no process behind — on a private state dir and ports,
 * so the shared services the other tests use are never touched.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, freePortPair, repoRoot } from '@gantry/testkit';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
};

describe('scripts/services.sh on a private home', () => {
  const home = mkdtempSync(join(tmpdir(), 'gantry-services-'));
  let env: NodeJS.ProcessEnv;
  const services = (...args: string[]) => spawnSync('bash', [join(repoRoot(), 'scripts/services.sh'), ...args], { encoding: 'utf8', env });
  const pids = () => Object.fromEntries(readdirSync(join(home, 'run')).map((f) => [f.replace('.pid', ''), Number(readFileSync(join(home, 'run', f), 'utf8'))]));

  beforeAll(async () => {
    const etcdPort = await freePortPair(); // etcd's peer listens on the next port
    env = { ...process.env, GANTRY_DEV_HOME: home, GANTRY_DEV_ETCD_PORT: String(etcdPort), GANTRY_DEV_REGISTRY: `127.0.0.1:${await freePort()}` };
  });
  afterAll(() => {
    services('down', 'etcd', 'registry', 'etcd-cluster');
    rmSync(home, { recursive: true, force: true });
  });

  it('starts etcd and a registry once; a second `up` changes nothing; `down` leaves no process', () => {
    const first = services('up', 'etcd', 'registry');
    expect(first.stderr).toMatch(/etcd: starting/);
    expect({ status: first.status, stderr: first.stderr }).toMatchObject({ status: 0 });
    const started = pids();
    expect(Object.keys(started).sort()).toEqual(['etcd', 'registry']);

    const second = services('up', 'etcd', 'registry');
    expect(second.status).toBe(0);
    expect(second.stderr).toMatch(/etcd: already running/);
    expect(second.stderr).toMatch(/registry: already running/);
    expect(pids()).toEqual(started);

    const status = JSON.parse(services('status', '--json').stdout) as Array<{ name: string; state: string; startedBy: string }>;
    expect(status.filter((s) => s.name === 'etcd' || s.name === 'registry').map((s) => [s.name, s.state, s.startedBy.startsWith('this script')])).toEqual([
      ['etcd', 'up', true],
      ['registry', 'up', true],
    ]);

    expect(services('down', 'etcd', 'registry').status).toBe(0);
    for (const pid of Object.values(started)) expect(alive(pid)).toBe(false);
    expect(readdirSync(join(home, 'run'))).toEqual([]);
  });

  it('starts a three-member etcd cluster on loopback and stops it', () => {
    const up = services('up', 'etcd-cluster');
    expect(up.status).toBe(0);
    const members = spawnSync('etcdctl', ['--endpoints', 'http://127.0.0.1:23791', 'member', 'list'], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' } });
    expect(members.stdout.trim().split('\n')).toHaveLength(3);
    const started = Object.values(pids());
    expect(started).toHaveLength(3);
    expect(services('down', 'etcd-cluster').status).toBe(0);
    for (const pid of started) expect(alive(pid)).toBe(false);
  });

  it('names an unknown service', () => {
    const run = services('up', 'kafka');
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/unknown service 'kafka'/);
  });
});
