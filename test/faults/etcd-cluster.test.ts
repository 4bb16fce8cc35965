/**
 * etcd as a cluster (issue 9): three gantryd agents and the CLI on the three-member cluster of
 * `scripts/services.sh up etcd-cluster`, a rollout under load, and two faults of the cluster itself
 * mid-rollout — the leader SIGKILLed (restarted afterwards), and one member cut off from the other two
 * while its clients can still reach it. Also, below the fleet: a watch through a member that loses
 * its leader is canceled (require-leader) and the PrefixWatcher goes on through another member.
 *
 * Starts the cluster if it is down; leaves all three members running (normally started, no
 * isolation rule left) at the end, pass or fail.
 */
import { ConnectionPool } from 'etcd3/lib/connection-pool';
import { connectEtcd, PrefixWatcher, type EtcdConnectionOptions } from '@gantry/etcd';
import { rolloutHistoryEntrySchema, rolloutStateSchema, type RolloutHistoryEntry } from '@gantry/spec';
import { ensureDemoImages, loadTotals, serviceEnv, startLoad, waitFor, type LoadRun } from '@gantry/testkit';
import { DockerContainerRuntime } from '@gantry/agent';
import { AgentProcess } from '../support/agent-process';
import { cliEnv, gantryBin } from '../support/cli';
import { demoConfig } from '../support/demo-config';
import { Fleet, FLEET_PORT, keys } from '../support/fleet';
import { freeHostAddresses } from '../support/local-host';
import { spawn } from 'node:child_process';
import {
  canIsolate,
  clusterEndpoints,
  clusterHealthy,
  clusterUp,
  heal,
  isolate,
  killMember,
  leader,
  memberPids,
  members,
  restartIsolatable,
  restoreCluster,
  type Member,
} from './etcd-cluster-control';
import { recordFault } from './fault-report';

const HOSTS = 3;
const isolation = canIsolate();

const endpointsOf = (list: string[]): EtcdConnectionOptions => ({ endpoints: list, sources: {} }) as unknown as EtcdConnectionOptions;

/** A fleet whose agents each get their own endpoint list (all three members, in an order of the test's). */
class ClusterFleet extends Fleet {
  async startWith(lists: string[][]): Promise<void> {
    await this.etcd.put(keys.config(this.project)).value(JSON.stringify(demoConfig(FLEET_PORT, { readyTimeout: 4_000, drainTimeout: 3_000 })));
    const addresses = await freeHostAddresses(lists.length, FLEET_PORT);
    // gantryd's default lease TTL (10 s), not the tests' 3 s: a member cut off from the quorum holds
    // the keepalives sent to it until require-leader cancels the stream (~3 election timeouts,
    // measured ~3.9 s), longer than 3 s: the updating host counted lost 2.9 s after the cut (seen in
    // CI). A TTL is meant to outlast etcd's own failover. (Reopening a stream whose keepalive is
    // unanswered for a third of the TTL was tried: under a loaded etcd it threw slow answers away
    // and lost leases — the fuzz test failed in CI.)
    this.agents = addresses.map((bindAddress, i) =>
      new AgentProcess({ hostId: `h${i + 1}`, project: this.project, bindAddress, stateDir: this.stateDir, etcd: lists[i], leaseTtlS: 10 }).start(),
    );
  }

  async history(id: string, timeoutMs = 180_000): Promise<RolloutHistoryEntry> {
    const text = await waitFor(async () => (await this.etcd.get(keys.rolloutHistory(this.project, 'web', id)).string()) ?? undefined, {
      timeoutMs,
      intervalMs: 200,
      what: `rollout ${id} in history\n${this.agents.map((a) => a.tail(10)).join('\n')}\nmembers: ${JSON.stringify(memberPids())}`,
    });
    return rolloutHistoryEntrySchema.parse(JSON.parse(text));
  }

  /** Hosts whose rollout result is `done`, from the rollout state (0 once it is gone). */
  async hostsDone(): Promise<number> {
    const text = await this.etcd.get(keys.rolloutState(this.project, 'web')).string();
    return text === null ? 0 : rolloutStateSchema.parse(JSON.parse(text)).hosts.filter((h) => h.result === 'done').length;
  }

  /** Every container id each host ever had, by version, while it ran: a host updated twice has two of the new version. */
  containerWatch(): { stop: () => Promise<Record<string, Record<string, number>>> } {
    const runtime = new DockerContainerRuntime({ dockerHost: serviceEnv().dockerHost });
    const seen = new Map<string, Map<string, Set<string>>>();
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        for (const agent of this.agents) {
          const host = agent.spec.hostId;
          for (const c of await runtime.list({ project: this.project, hostId: host }).catch(() => [])) {
            const byVersion = seen.get(host) ?? new Map<string, Set<string>>();
            seen.set(host, byVersion);
            byVersion.set(c.version, (byVersion.get(c.version) ?? new Set<string>()).add(c.id));
          }
        }
        await new Promise((r) => setTimeout(r, 150));
      }
    })();
    return {
      stop: async () => {
        stopped = true;
        await loop;
        return Object.fromEntries([...seen].map(([host, byVersion]) => [host, Object.fromEntries([...byVersion].map(([v, ids]) => [v, ids.size]))]));
      },
    };
  }
}

/** `gantry deploy` as an operator runs it, against every member; resolves with its exit code and output. */
function deploy(endpoints: string[], project: string, tag: string) {
  const child = spawn(process.execPath, [gantryBin, 'deploy', project, 'web', '--tag', tag, '--batch', '1', '--min-ready', '2', '--etcd-endpoints', endpoints.join(','), '--json'], {
    env: cliEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return {
    child,
    done: new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr }))),
  };
}

/** Watch streams open on a member (etcd's own gauge), read from its metrics endpoint. */
async function watchStreams(m: Member): Promise<number | undefined> {
  try {
    const text = await (await fetch(`${m.clientUrl}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
    const line = text.split('\n').find((l) => l.startsWith('etcd_debugging_mvcc_watch_stream_total '));
    return line ? Number(line.split(' ')[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs a rollout under load, injects `fault` once the first host is done, and checks the outcome. */
async function rolloutThrough(
  fleet: ClusterFleet,
  tag: 'v1' | 'v2',
  fault: () => Promise<string>,
): Promise<{ sent: number; failed: number; progressMs: number; completeMs: number; injected: string; perHost: Record<string, Record<string, number>>; entry: RolloutHistoryEntry; deployCode: number | null }> {
  const containers = fleet.containerWatch();
  const loads: LoadRun[] = fleet.agents.map((_, i) => startLoad({ url: fleet.url(i), connections: 2, rate: 40 }));
  try {
    await waitFor(() => loads.every((l) => l.snapshot().ok > 10), { what: 'load to flow' });
    const run = deploy(clusterEndpoints, fleet.project, tag);
    await waitFor(async () => (await fleet.hostsDone()) >= 1, { timeoutMs: 90_000, intervalMs: 100, what: `the first host done\n${fleet.agents.map((a) => a.tail(8)).join('\n')}` });
    const doneAtInjection = await fleet.hostsDone();
    const injectedAt = Date.now();
    const injected = await fault();
    // Progress: another host done, or the rollout over (its state gone into history).
    let progressMs = 0;
    await waitFor(
      async () => {
        const state = await fleet.etcd.get(keys.rolloutState(fleet.project, 'web')).string();
        const done = state === null ? HOSTS : rolloutStateSchema.parse(JSON.parse(state)).hosts.filter((h) => h.result === 'done').length;
        if (done > doneAtInjection) progressMs = Date.now() - injectedAt;
        return done > doneAtInjection;
      },
      { timeoutMs: 120_000, intervalMs: 100, what: `the rollout to move after the fault\n${fleet.agents.map((a) => a.tail(8)).join('\n')}` },
    );
    const result = await run.done;
    const completeMs = Date.now() - injectedAt;
    const last = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as { id?: string };
    const entry = await fleet.history(last.id ?? '');
    // A failed rollout is the finding: say why (the hosts' reasons and every agent's log), not that a host never converged.
    if (entry.state.state !== 'succeeded') {
      throw new Error(`rollout ${entry.state.state}: ${JSON.stringify(entry.state.hosts)}\n${result.stdout}\n${result.stderr}\n${fleet.agents.map((a) => a.tail(40)).join('\n')}`);
    }
    await fleet.converged(tag);
    const reports = await Promise.all(loads.map((l) => l.stop()));
    const totals = loadTotals(reports);
    const perHost = await containers.stop();
    if (result.code !== 0) throw new Error(`gantry deploy exited ${result.code}\n${result.stdout}\n${result.stderr}`);
    if (totals.failed > 0) console.log(`failed requests: ${totals.samples.join('\n')}`);
    return { sent: totals.sent, failed: totals.failed, progressMs, completeMs, injected, perHost, entry, deployCode: result.code };
  } finally {
    await Promise.all(loads.map((l) => l.stop()));
    await containers.stop();
  }
}

beforeAll(async () => {
  clusterUp();
  await clusterHealthy();
  await ensureDemoImages();
}, 600_000);

// Pass or fail: all three members up, started as the services script starts them, no isolation rule.
afterAll(() => restoreCluster(), 180_000);

describe('require-leader on the watch stream', () => {
  const [isolated] = [members[1]];
  afterAll(() => heal(), 120_000);

  (isolation.ok ? it : it.skip)('a watch through a member cut off from the quorum is canceled, and the PrefixWatcher goes on through another member without missing a change', async () => {
    await restartIsolatable(isolated);
    const others = members.filter((m) => m !== isolated).map((m) => m.clientUrl);
    // etcd3 shuffles hosts per call; in order, the pool walks the list from its end: the isolated member first.
    ConnectionPool.deterministicOrder = true;
    const client = connectEtcd(endpointsOf([...others, isolated.clientUrl]));
    const writer = connectEtcd(endpointsOf(others));
    const prefix = `/gantry-test/watch-${Date.now()}/`;
    const seen: string[] = [];
    const errors: string[] = [];
    const watcher = new PrefixWatcher({
      client,
      prefix,
      onSnapshot: (kvs) => {
        for (const k of kvs.keys()) if (!seen.includes(k)) seen.push(k);
      },
      onChange: (c) => {
        if (c.type === 'put' && !seen.includes(c.key)) seen.push(c.key);
      },
      onError: (err) => errors.push(err.message),
    });
    try {
      await watcher.start();
      ConnectionPool.deterministicOrder = false;
      expect(await watchStreams(isolated)).toBeGreaterThanOrEqual(1);
      await writer.put(`${prefix}before`).value('1');
      await waitFor(() => seen.includes(`${prefix}before`), { what: 'the first change' });

      const cutAt = Date.now();
      isolate(isolated);
      // Written on the majority while the watched member is cut off: it never sees these.
      for (let i = 0; i < 5; i++) await writer.put(`${prefix}during-${i}`).value(String(i));
      await waitFor(() => errors.some((e) => e.includes('no leader')), { timeoutMs: 30_000, what: `the watch canceled with "no leader" (errors: ${errors.join('; ')})` });
      const canceledMs = Date.now() - cutAt;
      await waitFor(() => [0, 1, 2, 3, 4].every((i) => seen.includes(`${prefix}during-${i}`)), { timeoutMs: 30_000, what: 'the changes written during the cut' });
      const caughtUpMs = Date.now() - cutAt;
      console.log(`require-leader: ${JSON.stringify({ canceledMs, caughtUpMs, status: watcher.status(), errors: errors.slice(0, 4) })}`);
      // Caught up from a snapshot; its new watch may land on the isolated member again (refused: "no
      // leader") before one lands elsewhere, so connected is awaited, not read at that instant.
      await waitFor(() => watcher.status().connected, { timeoutMs: 30_000, what: 'the watch connected through another member' });
      expect(seen).toEqual([`${prefix}before`, ...[0, 1, 2, 3, 4].map((i) => `${prefix}during-${i}`)]);
    } finally {
      ConnectionPool.deterministicOrder = false;
      await watcher.stop();
      await writer.delete().prefix(prefix).catch(() => undefined);
      client.close();
      writer.close();
      heal();
    }
  }, 180_000);
});

describe('a rollout across three agents on a three-member etcd cluster', () => {
  let fleet: ClusterFleet;
  beforeAll(async () => {
    await clusterHealthy();
    fleet = new ClusterFleet(clusterEndpoints, 'etcd-cluster');
    // Each agent its own order of the members (etcd3 shuffles per call anyway).
    const lists = [0, 1, 2].map((i) => [...clusterEndpoints.slice(i), ...clusterEndpoints.slice(0, i)]);
    await fleet.startWith(lists);
    await fleet.setFleetVersion('v1');
    await fleet.converged('v1');
    await waitFor(() => fleet.coordinator(), { what: 'a coordinator to be elected' });
  }, 240_000);
  afterAll(async () => {
    heal();
    clusterUp();
    await fleet?.cleanup();
  }, 180_000);

  it('the etcd leader SIGKILLed mid-rollout: the rollout completes, each host updated once, no request lost', async () => {
    let killed: Member | undefined;
    const out = await rolloutThrough(fleet, 'v2', async () => {
      killed = await leader();
      if (!killed) throw new Error('no etcd leader');
      await killMember(killed);
      return `SIGKILL of the etcd leader ${killed.name} after the first host was done`;
    });
    const newLeader = await leader();
    // Restarted afterwards, as a supervisor would.
    const restartedAt = Date.now();
    clusterUp();
    await clusterHealthy();
    const rejoinMs = Date.now() - restartedAt;
    console.log(`leader kill: ${JSON.stringify({ killed: killed?.name, newLeader: newLeader?.name, rejoinMs, perHost: out.perHost, progressMs: out.progressMs, completeMs: out.completeMs })}`);
    recordFault({
      fault: 'etcd leader SIGKILLed mid-rollout (3-member cluster)',
      injected: out.injected,
      sent: out.sent,
      failed: out.failed,
      recoveryMs: out.progressMs,
      replaced: replacedBeyondOnce(out.perHost, 'v2'),
      note: `recovery = injection until the next host done; rollout completed ${out.completeMs} ms after injection; new leader ${newLeader?.name}; killed member restarted after and rejoined in ${rejoinMs} ms; per-host update ms: ${hostMs(out.entry)}`,
    });
    expect(out.entry.state.state).toBe('succeeded');
    expect(out.entry.state.hosts.map((h) => h.result)).toEqual(['done', 'done', 'done']);
    expect(out.perHost).toEqual({ h1: expect.objectContaining({ v2: 1 }), h2: expect.objectContaining({ v2: 1 }), h3: expect.objectContaining({ v2: 1 }) });
    expect(out.failed).toBe(0);
    expect(out.sent).toBeGreaterThan(100);
  }, 300_000);

  (isolation.ok ? it : it.skip)('one member cut off from the other two mid-rollout: the rollout completes, each host updated once, no request lost', async () => {
    const tag = (await fleet.status(0))?.version === 'v1' ? 'v2' : 'v1';
    const isolated = members[1];
    await restartIsolatable(isolated);
    // Restarting it sent its clients elsewhere. Make sure an agent watches through it: restart agents
    // (SIGTERM: containers and HAProxy keep serving, the registration is revoked) until one's watch
    // stream lands on it — etcd3 picks a random member per stream.
    const watched = () => waitFor(async () => ((await watchStreams(isolated)) ?? 0) > 0, { timeoutMs: 8_000, intervalMs: 200 }).then(() => true, () => false);
    for (let i = 0; !(await watched()); i++) {
      if (i >= 9) throw new Error(`no agent's watch on ${isolated.name} after ${i} agent restarts`);
      const n = i % HOSTS;
      await fleet.agents[n].kill('SIGTERM');
      fleet.agents[n] = new AgentProcess(fleet.agents[n].spec).start();
      // Its status says running from before the restart: wait for the new agent's own line.
      await waitFor(() => fleet.agents[n].logs.some((l) => l.includes('"agent started"')), { timeoutMs: 30_000, what: `h${n + 1} started again\n${fleet.agents[n].tail()}` }).catch(() => undefined);
      await fleet.converged(tag === 'v1' ? 'v2' : 'v1', 60_000, [n]);
      await waitFor(() => fleet.coordinator(), { what: 'a coordinator' });
    }
    const warnings: string[] = [];
    fleet.agents.forEach((a) => a.onLog((line) => /"level":("warn"|"error"|[45]0)[,}]/.test(line) && warnings.push(`${a.spec.hostId} ${line.slice(0, 300)}`)));
    const role = (await leader()) === isolated ? 'leader' : 'follower';
    let streams: number | undefined;
    const out = await rolloutThrough(fleet, tag, async () => {
      streams = await watchStreams(isolated);
      isolate(isolated);
      return `iptables blackhole of ${isolated.name}'s peer traffic (a ${role}; ${streams ?? '?'} watch streams of agents and CLI on it) after the first host was done; its client port left open`;
    });
    const healedAt = Date.now();
    heal();
    await clusterHealthy();
    const rejoinMs = Date.now() - healedAt;
    console.log(`isolation: ${JSON.stringify({ isolated: isolated.name, role, streams, rejoinMs, perHost: out.perHost, progressMs: out.progressMs, completeMs: out.completeMs })}\nagent warnings during the rollout (${warnings.length}):\n${warnings.slice(0, 25).join('\n')}`);
    recordFault({
      fault: 'one etcd member isolated from the other two mid-rollout (3-member cluster)',
      injected: out.injected,
      sent: out.sent,
      failed: out.failed,
      recoveryMs: out.progressMs,
      replaced: replacedBeyondOnce(out.perHost, tag),
      note: `recovery = injection until the next host done; rollout completed ${out.completeMs} ms after injection (still isolated); healed after, member rejoined in ${rejoinMs} ms; per-host update ms: ${hostMs(out.entry)}`,
    });
    expect(out.entry.state.state).toBe('succeeded');
    expect(out.entry.state.hosts.map((h) => h.result)).toEqual(['done', 'done', 'done']);
    // One new container of the version per host (an older one of it was gone before this rollout began).
    expect(out.perHost).toEqual({ h1: expect.objectContaining({ [tag]: 1 }), h2: expect.objectContaining({ [tag]: 1 }), h3: expect.objectContaining({ [tag]: 1 }) });
    expect(out.failed).toBe(0);
    expect(out.sent).toBeGreaterThan(100);
  }, 300_000);
});

/** Each host's update time in the rollout (ms, start to done), for the fault-free pace beside the recovery figure. */
function hostMs(entry: RolloutHistoryEntry): string {
  return entry.state.hosts.map((h) => `${h.id} ${h.startedAt && h.finishedAt ? Date.parse(h.finishedAt) - Date.parse(h.startedAt) : '?'}`).join(', ');
}

/** Containers of `version` started beyond one per host: a host updated twice. */
function replacedBeyondOnce(perHost: Record<string, Record<string, number>>, version: string): number {
  return Object.values(perHost).reduce((n, byVersion) => n + Math.max(0, (byVersion[version] ?? 0) - 1), 0);
}
