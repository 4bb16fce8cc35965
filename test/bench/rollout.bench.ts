/**
 * Rolling updates driven by the elected coordinator, v1 → v2, measured end to end:
 *
 *   1. REAL fleets (BENCH_ROLLOUT_REAL, default "3,10"): real gantryd processes (AgentProcess,
 *      --lease-ttl 3), one shared dockerd, one HAProxy per host on 127.0.1.N, local etcd;
 *      rollout batch 2, minReadySeconds 0.
 *   2. A SIMULATED fleet (BENCH_ROLLOUT_SIM, default "500"): that many real `Agent` objects in this
 *      one process, sharing one etcd client, against the REAL etcd, but each with an in-memory
 *      engine (test/support/simulated-host.ts: no Docker, no HAProxy; start 50 ms + "ready" 20 ms,
 *      no ready or health checks); rollout batch 10%, minReadySeconds 0. This is a SIMULATION: it
 *      measures the coordination (etcd, watches, coordinator, agents' reconcile loops), not container work.
 *
 * Figures per rollout:
 *   wall time          request key written → history entry seen by a watch
 *   batch wall         first host of the batch told (state record startedAt) → last host of the batch done (finishedAt)
 *   slowest host       the slowest host of the batch, its own update: its first status naming the target
 *                      version (updatedAt) → its status running the target version (updatedAt)
 *   overhead           batch wall − slowest host
 *   etcd writes        store revision delta (request put → history entry's mod revision), divided by the
 *                      hosts updated. WRITES (revisions) only, no reads and no watches; the etcd is shared,
 *                      so any other writer at the time shows too. Also the number of key changes under the
 *                      project seen by a watch over the same span (a transaction is one revision, several keys).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { createHostEngine } from '@gantry/agent';
import { Agent } from '@gantry/agent/dist/agent/agent';
import { createLogger } from '@gantry/agent/dist/agent/logger';
import { PrefixWatcher } from '@gantry/etcd';
import {
  componentStatusSchema,
  coordinatorRecordSchema,
  KeyLayout,
  rolloutHistoryEntrySchema,
  rolloutRequestSchema,
  type BatchSize,
  type ComponentStatus,
  type RolloutHistoryEntry,
} from '@gantry/spec';
import { ensureDemoImages, serviceEnv, waitFor } from '@gantry/testkit';
import { AgentProcess } from '../support/agent-process';
import { demoConfig } from '../support/demo-config';
import { freeHostAddresses } from '../support/local-host';
import { simulatedEngine } from '../support/simulated-host';
import { fmt, median, printTable } from './stats';

const PORT = 80;
const keys = new KeyLayout();
const sizes = (text: string | undefined, fallback: string) =>
  (text ?? fallback)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number)
    .filter((n) => n > 0);
const REAL = sizes(process.env.BENCH_ROLLOUT_REAL, '3,10');
const SIM = sizes(process.env.BENCH_ROLLOUT_SIM, '500');
const SIM_START_MS = Number(process.env.BENCH_ROLLOUT_SIM_START_MS ?? 50);
const SIM_READY_MS = Number(process.env.BENCH_ROLLOUT_SIM_READY_MS ?? 20);

interface BatchFigures {
  batch: number;
  hosts: number;
  wallMs: number;
  slowestHostMs: number;
  overheadMs: number;
}

interface RolloutFigures {
  label: string;
  hosts: number;
  wallMs: number;
  /** Request written → first host key written (state.startedAt). */
  firstBatchDelayMs: number;
  /** Last host done → history entry seen. */
  finishMs: number;
  batches: BatchFigures[];
  revisions: number;
  keyChanges: number;
  state: string;
}

/** Hosts' own update times from their status records, per host. */
function trackHostUpdates(to: string) {
  const begun = new Map<string, number>();
  const done = new Map<string, number>();
  const take = (host: string, s: ComponentStatus) => {
    const at = Date.parse(s.updatedAt);
    const running = s.phase === 'running' && s.version === to;
    if (!begun.has(host) && s.targetVersion === to && !running) begun.set(host, at);
    if (begun.has(host) && !done.has(host) && running) done.set(host, at);
  };
  return { take, own: (host: string) => (begun.has(host) && done.has(host) ? done.get(host)! - begun.get(host)! : NaN) };
}

/**
 * Writes a rollout request to `to` and waits for its history entry, watching the whole project
 * meanwhile. The fleet must be settled on the previous version.
 */
async function measureRollout(etcd: Etcd3, project: string, label: string, hostCount: number, to: string, batch: BatchSize, timeoutMs: number): Promise<RolloutFigures> {
  const id = `bench-${randomBytes(3).toString('hex')}`;
  const historyKey = keys.rolloutHistory(project, 'web', id);
  const tracker = trackHostUpdates(to);
  let requestRevision = Infinity;
  let historySeenAt = 0;
  let historyRevision = 0;
  const changeRevisions: number[] = [];
  const watcher = new PrefixWatcher({
    client: etcd,
    prefix: keys.project(project),
    onSnapshot: () => undefined,
    onChange: (c) => {
      changeRevisions.push(c.revision);
      if (c.key === historyKey && c.type === 'put' && !historySeenAt) {
        historySeenAt = Date.now();
        historyRevision = c.revision;
      }
      const parsed = keys.parse(c.key);
      if (parsed?.kind === 'status' && parsed.component === 'web' && c.type === 'put') {
        const s = componentStatusSchema.safeParse(JSON.parse(c.value));
        if (s.success) tracker.take(parsed.host, s.data);
      }
    },
  });
  await watcher.start();
  try {
    const request = rolloutRequestSchema.parse({ id, component: 'web', toVersion: to, policy: { batch, minReadySeconds: 0 }, createdBy: 'bench', createdAt: new Date().toISOString() });
    const writtenAt = Date.now();
    const put = await etcd.put(keys.rolloutRequest(project, 'web')).value(JSON.stringify(request)).exec();
    requestRevision = Number(put.header.revision);
    try {
      await waitFor(() => historySeenAt > 0, { timeoutMs, intervalMs: 20, what: `rollout ${id} (${label}) in history` });
    } catch (err) {
      const state = await etcd.get(keys.rolloutState(project, 'web')).string();
      throw new Error(`${(err as Error).message.split('\n')[0]}; rollout state: ${state ? (JSON.parse(state) as { state: string; message?: string }).state + ', ' + (JSON.parse(state) as { message?: string }).message : 'none'}`);
    }
    const entry: RolloutHistoryEntry = rolloutHistoryEntrySchema.parse(JSON.parse((await etcd.get(historyKey).string())!));
    // Let the last status writes (each agent reporting its final state) arrive before reading own times.
    await waitFor(() => entry.state.hosts.every((h) => !Number.isNaN(tracker.own(h.id))), { timeoutMs: 10_000, intervalMs: 50, what: 'final statuses' }).catch(() => undefined);

    const byBatch = new Map<number, typeof entry.state.hosts>();
    for (const h of entry.state.hosts) byBatch.set(h.batch, [...(byBatch.get(h.batch) ?? []), h]);
    const batches: BatchFigures[] = [...byBatch.entries()]
      .sort(([a], [b]) => a - b)
      .map(([batchNo, hosts]) => {
        const start = Math.min(...hosts.map((h) => Date.parse(h.startedAt ?? '')));
        const end = Math.max(...hosts.map((h) => Date.parse(h.finishedAt ?? '')));
        const slowest = Math.max(...hosts.map((h) => tracker.own(h.id)).filter((n) => !Number.isNaN(n)));
        return { batch: batchNo, hosts: hosts.length, wallMs: end - start, slowestHostMs: slowest, overheadMs: end - start - slowest };
      });
    const lastDone = Math.max(...entry.state.hosts.map((h) => Date.parse(h.finishedAt ?? '')));
    return {
      label,
      hosts: hostCount,
      wallMs: historySeenAt - writtenAt,
      firstBatchDelayMs: Date.parse(entry.state.startedAt ?? '') - writtenAt,
      finishMs: historySeenAt - lastDone,
      batches,
      revisions: historyRevision - requestRevision,
      keyChanges: changeRevisions.filter((r) => r > requestRevision && r <= historyRevision).length,
      state: entry.state.state,
    };
  } finally {
    await watcher.stop();
  }
}

function report(f: RolloutFigures): void {
  const title = `Rollout v1→v2, ${f.label}: ${f.hosts} hosts, ${f.batches.length} batches, result ${f.state}`;
  printTable(
    title,
    ['batch', 'hosts', 'batch wall', 'slowest host', 'overhead'],
    f.batches.map((b) => [String(b.batch), String(b.hosts), fmt(b.wallMs), fmt(b.slowestHostMs), fmt(b.overheadMs)]),
  );
  const overheads = f.batches.map((b) => b.overheadMs);
  printTable(`Summary, ${f.label}`, ['figure', 'value'], [
    ['wall time (request written → history entry seen)', fmt(f.wallMs)],
    ['  request written → first host key written', fmt(f.firstBatchDelayMs)],
    ['  last host done → history entry seen', fmt(f.finishMs)],
    ['overhead per batch, median', fmt(median(overheads))],
    ['overhead per batch, max', fmt(Math.max(...overheads))],
    ['etcd writes (revisions) request → history', String(f.revisions)],
    ['etcd writes (revisions) per host update', (f.revisions / f.hosts).toFixed(1)],
    ['  key changes under the project (watch)', String(f.keyChanges)],
    ['  key changes per host update', (f.keyChanges / f.hosts).toFixed(1)],
  ]);
}

const statusOf = async (etcd: Etcd3, project: string, host: string) => {
  const text = await etcd.get(keys.status(project, host, 'web')).string();
  return text === null ? undefined : componentStatusSchema.parse(JSON.parse(text));
};

/** Every host's status at once, from one range read (a fleet of 500 polled one by one would load etcd itself). */
async function runningCount(etcd: Etcd3, project: string, version: string): Promise<number> {
  const all = await etcd.getAll().prefix(keys.hostsPrefix(project)).strings();
  let n = 0;
  for (const [key, value] of Object.entries(all)) {
    const parsed = keys.parse(key);
    if (parsed?.kind !== 'status' || parsed.component !== 'web') continue;
    const s = componentStatusSchema.safeParse(JSON.parse(value));
    if (s.success && s.data.phase === 'running' && s.data.version === version && s.data.containers.length === 1) n++;
  }
  return n;
}

const coordinatorOf = async (etcd: Etcd3, project: string) => {
  const text = await etcd.get(keys.coordinator(project)).string();
  return text === null ? undefined : coordinatorRecordSchema.parse(JSON.parse(text)).hostId;
};

async function realFleet(count: number): Promise<RolloutFigures> {
  const env = serviceEnv();
  const project = `bench-ro-${randomBytes(3).toString('hex')}`;
  const stateDir = mkdtempSync(join(tmpdir(), 'gantry-bench-rollout-'));
  const etcd = new Etcd3({ hosts: env.etcdEndpoints });
  let agents: AgentProcess[] = [];
  try {
    await etcd.put(keys.config(project)).value(JSON.stringify(demoConfig(PORT, { drainTimeout: 5_000 })));
    await etcd.put(keys.fleetDesired(project, 'web')).value(JSON.stringify({ version: 'v1', setBy: 'bench' }));
    const addresses = await freeHostAddresses(count, PORT);
    const startedAt = Date.now();
    agents = addresses.map((bindAddress, i) => new AgentProcess({ hostId: `h${i + 1}`, project, bindAddress, stateDir, etcd: env.etcdEndpoints }).start());
    await waitFor(async () => (await runningCount(etcd, project, 'v1')) === count, {
      timeoutMs: 60_000 + count * 15_000,
      intervalMs: 250,
      what: `${count} real hosts to run v1\n${agents.map((a) => a.tail(5)).join('\n')}`,
    });
    await waitFor(() => coordinatorOf(etcd, project), { what: 'a coordinator to be elected' });
    process.stderr.write(`  real fleet of ${count}: at v1 after ${fmt(Date.now() - startedAt)}\n`);
    const f = await measureRollout(etcd, project, `real fleet (${count} gantryd + HAProxy + container)`, count, 'v2', { count: 2 }, 120_000 + count * 30_000);
    for (const a of agents) if (!a.running) process.stderr.write(`  warning: ${a.spec.hostId} exited during the rollout\n`);
    const ok = await statusOf(etcd, project, 'h1');
    if (ok?.version !== 'v2') process.stderr.write(`  warning: h1 runs ${ok?.version}\n`);
    return f;
  } finally {
    await Promise.all(agents.map((a) => a.kill('SIGKILL')));
    for (const agent of agents) {
      const { runtime, proxy } = createHostEngine({ stateDir, hostId: agent.spec.hostId, dockerHost: env.dockerHost });
      for (const c of await runtime.list({ project, hostId: agent.spec.hostId }).catch(() => [])) await runtime.remove(c.id).catch(() => undefined);
      await proxy.stop().catch(() => undefined);
    }
    await etcd.delete().prefix(keys.project(project));
    etcd.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

async function simulatedFleet(count: number): Promise<RolloutFigures> {
  const env = serviceEnv();
  const project = `bench-sim-${randomBytes(3).toString('hex')}`;
  const etcd = new Etcd3({ hosts: env.etcdEndpoints });
  const log = createLogger({ host: 'sim', project }, 'error');
  const agents: Agent[] = [];
  try {
    const config = demoConfig(PORT, { readyChecks: [], healthChecks: [], drainTimeout: 1_000 });
    await etcd.put(keys.config(project)).value(JSON.stringify(config));
    await etcd.put(keys.fleetDesired(project, 'web')).value(JSON.stringify({ version: 'v1', setBy: 'bench' }));
    const startedAt = Date.now();
    // Registered in chunks: 500 agents opening leases and watches all at once only measures a thundering herd.
    const CHUNK = 50;
    for (let i = 0; i < count; i += CHUNK) {
      const chunk: Agent[] = [];
      for (let j = i; j < Math.min(count, i + CHUNK); j++) {
        const hostId = `s${j + 1}`;
        chunk.push(
          new Agent({
            etcd,
            keys,
            engine: simulatedEngine({ startMs: SIM_START_MS, readyMs: SIM_READY_MS }),
            ctx: { project, hostId, bindAddress: '127.0.0.1', publishAddress: '127.0.0.1' },
            labels: {},
            agentVersion: 'sim',
            log: log.child({ host: hostId }),
            leaseTtlS: 10,
            resyncMs: 30_000,
          }),
        );
      }
      agents.push(...chunk);
      await Promise.all(chunk.map((a) => a.start()));
    }
    const registeredMs = Date.now() - startedAt;
    await waitFor(async () => (await runningCount(etcd, project, 'v1')) === count, { timeoutMs: 120_000 + count * 200, intervalMs: 500, what: `${count} simulated hosts to run v1` });
    const registrations = (await etcd.getAll().prefix(keys.hostsPrefix(project)).keys()).filter((k) => keys.parse(k)?.kind === 'registration').length;
    await waitFor(() => coordinatorOf(etcd, project), { what: 'a coordinator to be elected' });
    process.stderr.write(`  simulated fleet of ${count}: all ${count} agents started after ${fmt(registeredMs)}, ${registrations} registrations in etcd, all at v1 after ${fmt(Date.now() - startedAt)}\n`);
    // Let the v1 status writes settle so they do not count against the rollout.
    await new Promise((r) => setTimeout(r, 2_000));
    return await measureRollout(etcd, project, `SIMULATION (${count} in-process agents, in-memory engine, real etcd)`, count, 'v2', { percent: 10 }, 60_000 + count * 100);
  } finally {
    await Promise.all(agents.map((a) => a.stop().catch(() => undefined)));
    await etcd.delete().prefix(keys.project(project));
    etcd.close();
  }
}

export async function benchRollout(): Promise<void> {
  const results: RolloutFigures[] = [];
  if (REAL.length > 0) await ensureDemoImages();
  for (const n of REAL) {
    try {
      const f = await realFleet(n);
      report(f);
      results.push(f);
    } catch (err) {
      console.log(`\nreal fleet of ${n}: not measured: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  for (const n of SIM) {
    try {
      const f = await simulatedFleet(n);
      report(f);
      results.push(f);
    } catch (err) {
      console.log(`\nSIMULATION with ${n} agents: not measured: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  if (results.length > 1) {
    printTable('Rollouts compared', ['fleet', 'hosts', 'batches', 'wall', 'overhead/batch (median)', 'etcd writes/host'], results.map((f) => [
      f.label.startsWith('SIMULATION') ? 'SIMULATION' : 'real',
      String(f.hosts),
      String(f.batches.length),
      fmt(f.wallMs),
      fmt(median(f.batches.map((b) => b.overheadMs))),
      (f.revisions / f.hosts).toFixed(1),
    ]));
  }
}
