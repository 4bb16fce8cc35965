/**
 * Control of the three-member etcd cluster of `scripts/services.sh up etcd-cluster` (members
 * etcd-m0..2, clients 127.0.0.1:23791-23793, peers +100, pidfiles and logs under the dev home):
 * who leads, SIGKILL a member, start what is down again, and cut one member off from the other two
 * while its clients still reach it.
 *
 * Isolation is done with iptables on loopback, scoped to the cluster's peer ports and to one
 * chain of our own (removed by `heal`). Every member listens and dials on 127.0.0.1, so a peer
 * connection can't be told apart by address; what tells them apart:
 * - connections *to* the member: its peer port (as destination or source);
 * - connections *from* the member to the others' peer ports: the member is run with its own group
 *   id (`setpriv --regid`, still root: its data dir stays readable), iptables' owner match finds
 *   its packets, CONNMARK marks their connections, and every packet of a marked connection —
 *   either way — is dropped. A blackhole, like a pulled cable: nothing is refused, things just time
 *   out. Client ports are untouched, so the member keeps answering its clients (without a leader).
 */
import { spawn, spawnSync } from 'node:child_process';
import { openSync, readFileSync, writeFileSync, closeSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { devHome, repoRoot, waitFor } from '@gantry/testkit';

export const CLUSTER_PORTS = [23791, 23792, 23793];
const PEER_OFFSET = 100;
const CHAIN = 'GANTRY-ETCD-ISOLATE';
/** The group id an isolatable member runs with; only its packets carry it. */
const ISOLATION_GID = 47_391;
const MARK = '0x4739';

export interface Member {
  index: number;
  name: string;
  clientUrl: string;
  peerPort: number;
}

export const members: Member[] = CLUSTER_PORTS.map((port, index) => ({
  index,
  name: `etcd-m${index}`,
  clientUrl: `http://127.0.0.1:${port}`,
  peerPort: port + PEER_OFFSET,
}));
export const clusterEndpoints = members.map((m) => m.clientUrl);

const pidfile = (m: Member) => `${devHome()}/run/${m.name}.pid`;
const logfile = (m: Member) => `${devHome()}/logs/${m.name}.log`;

export function memberPid(m: Member): number | undefined {
  try {
    const pid = Number(readFileSync(pidfile(m), 'utf8').trim());
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** `scripts/services.sh up etcd-cluster`: starts the cluster, or only the members that are down. */
export function clusterUp(): void {
  run('bash', [`${repoRoot()}/scripts/services.sh`, 'up', 'etcd-cluster']);
}

/** Each member's status, asked of that member alone; undefined where it does not answer in time. */
export async function memberStatus(m: Member, timeoutMs = 1500): Promise<{ id: string; leader: string; raftIndex: number } | undefined> {
  const client = new Etcd3({ hosts: m.clientUrl });
  try {
    const s = await client.maintenance.status({ deadline: new Date(Date.now() + timeoutMs) });
    return { id: s.header.member_id, leader: s.leader, raftIndex: Number(s.raftIndex) };
  } catch {
    return undefined;
  } finally {
    client.close();
  }
}

/** The member that leads, as a majority of the answering members see it. */
export async function leader(): Promise<Member | undefined> {
  const statuses = await Promise.all(members.map((m) => memberStatus(m)));
  const votes = new Map<string, number>();
  for (const s of statuses) if (s && s.leader !== '0') votes.set(s.leader, (votes.get(s.leader) ?? 0) + 1);
  const [id, n] = [...votes].sort((a, b) => b[1] - a[1])[0] ?? [];
  if (!id || n! < 2) return undefined;
  const i = statuses.findIndex((s) => s?.id === id);
  return i >= 0 ? members[i] : undefined;
}

/** Waits until all three members answer and agree on a leader. */
export async function clusterHealthy(timeoutMs = 60_000): Promise<Member> {
  return waitFor(
    async () => {
      const statuses = await Promise.all(members.map((m) => memberStatus(m)));
      if (statuses.some((s) => !s || s.leader === '0')) return undefined;
      const leaders = new Set(statuses.map((s) => s!.leader));
      return leaders.size === 1 ? members[statuses.findIndex((s) => s!.id === statuses[0]!.leader)] : undefined;
    },
    { timeoutMs, intervalMs: 200, what: 'all three etcd members up with one leader' },
  );
}

/** SIGKILLs the member's process and waits until it is gone. */
export async function killMember(m: Member): Promise<void> {
  const pid = memberPid(m);
  if (pid === undefined) throw new Error(`${m.name} is not running`);
  process.kill(pid, 'SIGKILL');
  await waitFor(() => memberPid(m) === undefined, { timeoutMs: 10_000, intervalMs: 20, what: `${m.name} to die` });
}

/**
 * Restarts the member exactly as the services script started it (its own command line, log and
 * pidfile), but with the isolation group id, so `isolate` can find its outgoing peer traffic.
 */
export async function restartIsolatable(m: Member): Promise<void> {
  const pid = memberPid(m);
  if (pid === undefined) throw new Error(`${m.name} is not running`);
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  process.kill(pid, 'SIGTERM');
  await waitFor(() => memberPid(m) === undefined, { timeoutMs: 30_000, intervalMs: 50, what: `${m.name} to stop` });
  const log = openSync(logfile(m), 'a');
  const child = spawn('setpriv', [`--regid=${ISOLATION_GID}`, '--clear-groups', '--', ...argv], { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  writeFileSync(pidfile(m), `${child.pid}\n`); // setpriv execs etcd: same pid; the services script can stop it
  await clusterHealthy();
}

const iptables = (...args: string[]) => run('iptables', ['-w', ...args]);

/** Cuts member `m` (run by `restartIsolatable`) off from the other two; its client port stays open. */
export function isolate(m: Member): void {
  heal();
  const others = members.filter((o) => o !== m).map((o) => String(o.peerPort));
  iptables('-N', CHAIN);
  iptables('-A', CHAIN, '-p', 'tcp', '--dport', String(m.peerPort), '-j', 'DROP');
  iptables('-A', CHAIN, '-p', 'tcp', '--sport', String(m.peerPort), '-j', 'DROP');
  iptables('-A', CHAIN, '-p', 'tcp', '-m', 'owner', '--gid-owner', String(ISOLATION_GID), '-m', 'multiport', '--dports', others.join(','), '-j', 'CONNMARK', '--set-mark', MARK);
  iptables('-A', CHAIN, '-p', 'tcp', '-m', 'connmark', '--mark', MARK, '-j', 'DROP');
  iptables('-I', 'OUTPUT', '1', '-o', 'lo', '-p', 'tcp', '-j', CHAIN);
}

/** Removes the isolation (idempotent: nothing to remove is fine). */
export function heal(): void {
  while (spawnSync('iptables', ['-w', '-D', 'OUTPUT', '-o', 'lo', '-p', 'tcp', '-j', CHAIN]).status === 0);
  spawnSync('iptables', ['-w', '-F', CHAIN]);
  spawnSync('iptables', ['-w', '-X', CHAIN]);
}

/** Whether this machine lets us isolate a member (iptables with the owner and connmark matches, as root). */
export function canIsolate(): { ok: true } | { ok: false; why: string } {
  if (process.getuid?.() !== 0) return { ok: false, why: 'not root' };
  const probe = spawnSync('iptables', ['-w', '-L', 'OUTPUT', '-n'], { encoding: 'utf8' });
  if (probe.status !== 0) return { ok: false, why: `iptables unusable: ${probe.stderr}` };
  if (spawnSync('setpriv', ['--version']).status !== 0) return { ok: false, why: 'setpriv missing' };
  return { ok: true };
}

/** The group id a running member runs with (0 as the services script starts it). */
export function memberGid(m: Member): number | undefined {
  const pid = memberPid(m);
  if (pid === undefined) return undefined;
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('Gid:'));
  return line ? Number(line.split(/\s+/)[1]) : undefined;
}

/**
 * Leaves the cluster as the services script does: no isolation rule, a member run with the
 * isolation group id stopped, and every member that is down started by the script.
 */
export async function restoreCluster(): Promise<void> {
  heal();
  for (const m of members) {
    const gid = memberGid(m);
    if (gid === undefined || gid === 0) continue;
    process.kill(memberPid(m)!, 'SIGTERM');
    await waitFor(() => memberPid(m) === undefined, { timeoutMs: 30_000, intervalMs: 50, what: `${m.name} to stop` });
  }
  clusterUp();
  await clusterHealthy();
}

/** The members' process ids (undefined where down), for the failure message. */
export const memberPids = () => Object.fromEntries(members.map((m) => [m.name, memberPid(m)]));
