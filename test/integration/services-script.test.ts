/**
 * scripts/services.sh as an operator uses it: `up` is idempotent, `status --json` tells what runs,
 * `down` stops what it started and leaves no process behind — on a private state dir and ports,
 * so the shared services the other tests use are never touched.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
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

const canBind = (port: number) =>
  new Promise<boolean>((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });

/** Three client ports whose peer ports (PORT+100, as services.sh uses them) are free too. */
async function freeClusterPorts(): Promise<number[]> {
  const found: number[] = [];
  for (let attempt = 0; attempt < 200 && found.length < 3; attempt++) {
    const port = 40_000 + Math.floor(Math.random() * 9_000);
    if (!found.some((p) => Math.abs(p - port) <= 100 || Math.abs(p + 100 - port) <= 1) && (await canBind(port)) && (await canBind(port + 100))) found.push(port);
  }
  if (found.length < 3) throw new Error('no three free port pairs (PORT, PORT+100) for the test cluster');
  return found;
}

describe('scripts/services.sh on a private home', () => {
  const home = mkdtempSync(join(tmpdir(), 'gantry-services-'));
  let env: NodeJS.ProcessEnv;
  let clusterEndpoint: string;
  const services = (...args: string[]) => spawnSync('bash', [join(repoRoot(), 'scripts/services.sh'), ...args], { encoding: 'utf8', env });
  const pids = () => Object.fromEntries(readdirSync(join(home, 'run')).map((f) => [f.replace('.pid', ''), Number(readFileSync(join(home, 'run', f), 'utf8'))]));

  beforeAll(async () => {
    const etcdPort = await freePortPair(); // etcd's peer listens on the next port
    // The cluster on ports of its own: the default ones may be serving the dev home's cluster (the fault suite's).
    const clusterPorts = await freeClusterPorts();
    env = { ...process.env, GANTRY_DEV_HOME: home, GANTRY_DEV_ETCD_PORT: String(etcdPort), GANTRY_DEV_REGISTRY: `127.0.0.1:${await freePort()}`, GANTRY_DEV_CLUSTER_PORTS: clusterPorts.join(' ') };
    clusterEndpoint = `http://127.0.0.1:${clusterPorts[0]}`;
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
    const members = spawnSync('etcdctl', ['--endpoints', clusterEndpoint, 'member', 'list'], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' } });
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
