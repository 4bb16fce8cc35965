/**
 * Rolling updates driven by the elected coordinator, v1 → v2, measured end to end:
 *
 *   1. REAL fleets (BENCH_ROLLOUT_REAL, default "3,10"): real gantryd processes (AgentProcess,
 *      --lease-ttl 3), one shared dockerd, one HAProxy per host on 127.0.1.N, local etcd;
 *      rollout batch 2, minReadySeconds 0. Then BENCH_ROLLOUT_DEAF (default "5") hosts of a
 *      SIGTERM-deaf app (stopTimeout 10 s): its wall time does not contain the stop timeouts.
 *   2. A SIMULATED fleet (BENCH_SIM_HOSTS, default "10000"; several sizes comma-separated): that
 *      many real `Agent` objects in BENCH_SIM_PROCS child processes (default one per 2,500 hosts),
 *      each hundred agents sharing one etcd client, against the REAL etcd, each agent with an in-memory
 *      engine (test/support/simulated-host.ts: no Docker, no HAProxy; start 50 ms + "ready" 20 ms,
 *      no ready or health checks); the agents are no coordinator candidates: the REAL coordinator
 *      runs alone in a child process of its own (test/support/coordinator-process.ts), which reports
 *      its memory and its passes. Rollout batch 10%, minReadySeconds 0, no preflight (in-memory
 *      pulls measure nothing; and a 10,000-host state carrying each host's preflight verdict is at
 *      etcd's 1.5 MiB request limit). This is a SIMULATION: it
 *      measures the coordination (etcd, watches, coordinator, agents' reconcile loops), not container work.
 *
 * Figures per rollout:
 *   wall time          request key written → history entry seen by a watch
 *   batch wall         first host of the batch told (state record startedAt) → last host of the batch done (finishedAt)
 *   slowest host       the slowest host of the batch, its own update: from when it began moving to the target
 *                      (its status's targetSince; an update written only once done: its new container's start)
 *                      → its status running the target version (updatedAt: the time of that write);
 *                      simulation: from its new container's start less the simulated work (start + ready ms)
 *   overhead           batch wall − slowest host (on a loaded machine it also holds the hosts' wait for CPU)
 *   coordination       the coordinator's own share, from when one watch of the project saw each key (its
 *                      own clock): tell = the batch's first host key → its last; react = the batch's last
 *                      host done (its status) → the next batch's first host key (last batch: → the history
 *                      entry); hosts work = the batch's last host key → its last host done
 *   etcd writes        store revision delta (request put → the last write under the project once the history
 *                      entry is written, every teardown is done and nothing changed there for 3.5 s: the
 *                      details that follow an update included), divided by the hosts updated. WRITES
 *                      (revisions) only, no reads and no watches; the etcd is shared, so any other writer
 *                      at the time shows too. Also the number of key changes under the
 *                      project seen by a watch over the same span (a transaction is one revision, several keys),
 *                      and the revisions by writer: agents' status records, the coordinator's (rollout
 *                      records, host and fleet desired keys), anything else.
 *   coordinator memory the coordinator's process.memoryUsage() (simulation: its own process; real fleets:
 *                      the RSS of the gantryd that leads, agent included), and its passes during the rollout.
 *   status writes      one host's status writes as the watch saw them, each with the fields it changed.
 *
 * BENCH_DEBUG=1 prints the stack of a simulation that could not be measured, and every host's status
 * writes of a real fleet; BENCH_CPU_PROF_DIR makes the simulation's coordinator and first agents
 * process write V8 CPU profiles there.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { createHostEngine } from '@gantry/agent';
import { Mirror, PrefixWatcher } from '@gantry/etcd';
import {
  componentStatusSchema,
  coordinatorRecordSchema,
  KeyLayout,
  rolloutHistoryEntrySchema,
  rolloutRequestSchema,
  type BatchSize,
  type ComponentInput,
  type ComponentStatus,
  type RolloutHistoryEntry,
} from '@gantry/spec';
import { ensureDemoImages, serviceEnv, waitFor } from '@gantry/testkit';
import { AgentProcess } from '../support/agent-process';
import { demoConfig } from '../support/demo-config';
import { freeHostAddresses } from '../support/local-host';
import { startCoordinatorProcess, startSimulatedFleet } from '../support/simulated-fleet';
import { storeQuiet } from './etcd-quiet';
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
/**
 * Real fleets of a SIGTERM-deaf app (BENCH_ROLLOUT_DEAF, default "5"): the demo app with
 * APP_FLAVOR=deaf, stopTimeout 10 s, batch 2. Drained is done: the wall time has no stop timeout in it.
 */
const DEAF = sizes(process.env.BENCH_ROLLOUT_DEAF, '5');
const DEAF_STOP_TIMEOUT_MS = 10_000;
const SIM = sizes(process.env.BENCH_SIM_HOSTS ?? process.env.BENCH_ROLLOUT_SIM, '10000');
const SIM_PROCS = Number(process.env.BENCH_SIM_PROCS ?? 0);
const SIM_START_MS = Number(process.env.BENCH_ROLLOUT_SIM_START_MS ?? 50);
const SIM_READY_MS = Number(process.env.BENCH_ROLLOUT_SIM_READY_MS ?? 20);

interface BatchFigures {
  batch: number;
  hosts: number;
  wallMs: number;
  slowestHostMs: number;
  overheadMs: number;
  /**
   * The coordinator's share, from what one watch of the project saw when (its own clock):
   * `tellMs` the batch's first host key → its last; `reactMs` the batch's last host done (its
   * status) → the next batch's first host key (the last batch: → the history entry). Between the
   * two the hosts work: `hostsMs`, the batch's last host key → its last host done.
   */
  tellMs: number;
  hostsMs: number;
  reactMs: number;
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
  /** Revisions up to the history entry only (the window of runs before 2026-12-04, which left out what follows it). */
  revisionsToHistory: number;
  keyChanges: number;
  /** Revisions by writer: agents' status records, the coordinator's records, others. */
  revisionsBy: { status: number; coordinator: number; other: number };
  state: string;
  /** The state's message at the end. */
  message?: string;
  /** One host's status writes (the first of batch 1), as the live view saw them. */
  sample?: { host: string; writes: string[] };
  /** Every host's writes (BENCH_DEBUG, fleets of up to 20 hosts). */
  everyHost?: Array<{ host: string; writes: string[] }>;
  /** The host whose coordinator drove it (the state's `coordinator`). */
  coordinatorHost?: string;
  /** What the coordinator cost, when it could be read. */
  coordinator?: CoordinatorFigures;
}

interface CoordinatorFigures {
  where: string;
  rssBytes: number;
  heapUsedBytes?: number;
  passes?: number;
  stepped?: number;
  passMeanMs?: number;
  passMaxMs?: number;
  stateWrites?: number;
  stateHeld?: number;
}

/** Which writer a revision's keys are of: an agent's status or record, the coordinator's, another. */
function writerOf(kinds: Set<string>): keyof RolloutFigures['revisionsBy'] {
  if (kinds.has('status') || kinds.has('agent')) return 'status';
  for (const k of kinds) if (k.startsWith('rollout-') || k === 'host-desired' || k === 'fleet-desired' || k === 'prepull') return 'coordinator';
  return 'other';
}

/** Hosts' own update times from their status records, per host. */
/**
 * `simulatedWorkMs` (a simulation): a host's update is taken to begin that long before its new
 * container's start (its record in the status) — the simulated work, by construction — since
 * under a loaded event loop its first status may be folded into its last (see StatusWriter).
 */
function trackHostUpdates(to: string, simulatedWorkMs?: number) {
  const begun = new Map<string, number>();
  const done = new Map<string, number>();
  /** Each host's status writes over the rollout, as `+ms phase`, from its first. */
  const writes = new Map<string, { first: number; steps: string[]; last?: ComponentStatus }>();
  const take = (host: string, s: ComponentStatus) => {
    const at = Date.parse(s.updatedAt);
    const w = writes.get(host) ?? { first: at, steps: [] };
    writes.set(host, w);
    const what = [s.phase, s.version && `${s.version}${s.targetVersion ? `→${s.targetVersion}` : ''}`, s.drain && 'drain', s.teardown && 'teardown'].filter(Boolean).join(' ');
    // Which fields the write changed: what each write was for.
    const was = w.last as Record<string, unknown> | undefined;
    const now = s as Record<string, unknown>;
    const changed = was && [...new Set([...Object.keys(was), ...Object.keys(now)])].filter((k) => k !== 'updatedAt' && JSON.stringify(was[k]) !== JSON.stringify(now[k]));
    w.last = s;
    w.steps.push(`+${at - w.first}ms ${what}${changed ? ` [${changed.join(',')}]` : ''}`);
    const running = s.phase === 'running' && s.version === to;
    if (simulatedWorkMs !== undefined) {
      const started = s.containers.find((c) => c.version === to)?.startedAt;
      if (running && started && !begun.has(host)) begun.set(host, Date.parse(started) - simulatedWorkMs);
    } else if (!begun.has(host) && s.targetVersion === to && !running) begun.set(host, Date.parse(s.targetSince ?? s.updatedAt));
    if (running && !begun.has(host) && simulatedWorkMs === undefined && w.steps.length > 1) {
      // Nothing written while it moved (an update quicker than the status pace): from its new container's start.
      const started = s.containers.find((c) => c.version === to && c.role === 'serving')?.startedAt;
      if (started) begun.set(host, Date.parse(started));
    }
    if (begun.has(host) && !done.has(host) && running) done.set(host, at);
  };
  return { take, own: (host: string) => (begun.has(host) && done.has(host) ? done.get(host)! - begun.get(host)! : NaN), writes: (host: string) => writes.get(host)?.steps ?? [] };
}

/**
 * Writes a rollout request to `to` and waits for its history entry, watching the whole project
 * meanwhile. The fleet must be settled on the previous version.
 */
async function measureRollout(etcd: Etcd3, project: string, label: string, hostCount: number, to: string, batch: BatchSize, timeoutMs: number, simulatedWorkMs?: number, preflight = true): Promise<RolloutFigures> {
  const id = `bench-${randomBytes(3).toString('hex')}`;
  const historyKey = keys.rolloutHistory(project, 'web', id);
  const tracker = trackHostUpdates(to, simulatedWorkMs);
  let requestRevision = Infinity;
  let historySeenAt = 0;
  let historyRevision = 0;
  const changeRevisions: number[] = [];
  /** When the watch saw each host told the target (its host key) and each host done, ms. */
  const toldSeen = new Map<string, number>();
  const doneSeen = new Map<string, number>();
  /** Whether each host's latest status still shows a teardown. */
  const tearingDown = new Map<string, boolean>();
  const kindsByRevision = new Map<number, Set<string>>();
  let lastChangeAt = 0;
  let lastRevision = 0;
  const watcher = new PrefixWatcher({
    client: etcd,
    prefix: keys.project(project),
    onSnapshot: () => undefined,
    onChange: (c) => {
      changeRevisions.push(c.revision);
      lastChangeAt = performance.now();
      lastRevision = Math.max(lastRevision, c.revision);
      const kind = keys.parse(c.key)?.kind ?? 'other';
      kindsByRevision.set(c.revision, (kindsByRevision.get(c.revision) ?? new Set()).add(kind));
      if (c.key === historyKey && c.type === 'put' && !historySeenAt) {
        historySeenAt = Date.now();
        historyRevision = c.revision;
      }
      const parsed = keys.parse(c.key);
      if (parsed?.kind === 'host-desired' && parsed.component === 'web' && c.type === 'put' && !toldSeen.has(parsed.host) && c.value.includes(`"${to}"`)) toldSeen.set(parsed.host, Date.now());
      if (parsed?.kind === 'status' && parsed.component === 'web' && c.type === 'put') {
        const s = componentStatusSchema.safeParse(JSON.parse(c.value));
        if (s.success) {
          tracker.take(parsed.host, s.data);
          tearingDown.set(parsed.host, s.data.teardown !== undefined);
          if (!doneSeen.has(parsed.host) && s.data.phase === 'running' && s.data.version === to) doneSeen.set(parsed.host, Date.now());
        }
      }
    },
  });
  await watcher.start().catch((err: Error) => {
    throw new Error(`watching the project: ${err.message}`);
  });
  try {
    const request = rolloutRequestSchema.parse({ id, component: 'web', toVersion: to, policy: { batch, minReadySeconds: 0, preflight }, createdBy: 'bench', createdAt: new Date().toISOString() });
    const writtenAt = Date.now();
    const put = await etcd.put(keys.rolloutRequest(project, 'web')).value(JSON.stringify(request)).exec().catch((err: Error) => {
      throw new Error(`writing the rollout request: ${err.message}`);
    });
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
    // The writes of an update end after the history entry: its teardown's end (in the background)
    // and the details that ride on a later write or go within 3 s (status-progress.ts). Counted up
    // to when every teardown is done and nothing under the project changed for 3.5 s.
    const settled = await waitFor(() => entry.state.hosts.every((h) => tearingDown.get(h.id) === false) && performance.now() - lastChangeAt > 3_500, { timeoutMs: 60_000, intervalMs: 50, what: 'every teardown done, and 3.5 s without a write' }).catch(() => false);
    if (!settled) process.stderr.write(`  warning: the project was not quiet within 60 s of the history entry; writes counted up to then\n`);

    const byBatch = new Map<number, typeof entry.state.hosts>();
    for (const h of entry.state.hosts) byBatch.set(h.batch, [...(byBatch.get(h.batch) ?? []), h]);
    const ordered = [...byBatch.entries()].sort(([a], [b]) => a - b);
    const seen = (m: Map<string, number>, hosts: typeof entry.state.hosts, pick: (...n: number[]) => number) => pick(...hosts.map((h) => m.get(h.id) ?? NaN).filter((n) => !Number.isNaN(n)));
    const batches: BatchFigures[] = ordered.map(([batchNo, hosts], i) => {
      const start = Math.min(...hosts.map((h) => Date.parse(h.startedAt ?? '')));
      const end = Math.max(...hosts.map((h) => Date.parse(h.finishedAt ?? '')));
      const slowest = Math.max(...hosts.map((h) => tracker.own(h.id)).filter((n) => !Number.isNaN(n)));
      const next = ordered[i + 1];
      const lastDone = seen(doneSeen, hosts, Math.max);
      const reactTo = next ? seen(toldSeen, next[1], Math.min) : historySeenAt;
      return {
        batch: batchNo,
        hosts: hosts.length,
        wallMs: end - start,
        slowestHostMs: slowest,
        overheadMs: end - start - slowest,
        tellMs: seen(toldSeen, hosts, Math.max) - seen(toldSeen, hosts, Math.min),
        hostsMs: lastDone - seen(toldSeen, hosts, Math.max),
        reactMs: reactTo - lastDone,
      };
    });
    const lastDone = Math.max(...entry.state.hosts.map((h) => Date.parse(h.finishedAt ?? '')));
    return {
      label,
      hosts: hostCount,
      wallMs: historySeenAt - writtenAt,
      firstBatchDelayMs: Date.parse(entry.state.startedAt ?? '') - writtenAt,
      finishMs: historySeenAt - lastDone,
      batches,
      revisions: lastRevision - requestRevision,
      revisionsToHistory: historyRevision - requestRevision,
      keyChanges: changeRevisions.filter((r) => r > requestRevision && r <= lastRevision).length,
      revisionsBy: [...kindsByRevision]
        .filter(([r]) => r > requestRevision && r <= lastRevision)
        .reduce((by, [, kinds]) => ({ ...by, [writerOf(kinds)]: by[writerOf(kinds)] + 1 }), { status: 0, coordinator: 0, other: 0 }),
      state: entry.state.state,
      coordinatorHost: entry.state.coordinator,
      message: entry.state.message,
      sample: ((h) => h && { host: h.id, writes: tracker.writes(h.id) })(entry.state.hosts.find((h) => h.batch === 1) ?? entry.state.hosts[0]),
      ...(process.env.BENCH_DEBUG && entry.state.hosts.length <= 20 && { everyHost: entry.state.hosts.map((h) => ({ host: h.id, writes: tracker.writes(h.id) })) }),
    };
  } finally {
    await watcher.stop();
  }
}

/** The coordinator's share of a batch. */
const coordinationMs = (b: BatchFigures) => b.tellMs + b.reactMs;

function report(f: RolloutFigures): void {
  const title = `Rollout v1→v2, ${f.label}: ${f.hosts} hosts, ${f.batches.length} batches, result ${f.state}`;
  printTable(
    title,
    ['batch', 'hosts', 'batch wall', 'slowest host', 'overhead', 'coordinator: tell', 'hosts work', 'coordinator: react', 'coordination'],
    f.batches.map((b) => [String(b.batch), String(b.hosts), fmt(b.wallMs), fmt(b.slowestHostMs), fmt(b.overheadMs), fmt(b.tellMs), fmt(b.hostsMs), fmt(b.reactMs), fmt(coordinationMs(b))]),
  );
  const overheads = f.batches.map((b) => b.overheadMs);
  const coordination = f.batches.map(coordinationMs);
  printTable(`Summary, ${f.label}`, ['figure', 'value'], [
    ['wall time (request written → history entry seen)', fmt(f.wallMs)],
    ['  request written → first host key written', fmt(f.firstBatchDelayMs)],
    ['  last host done → history entry seen', fmt(f.finishMs)],
    ['overhead per batch, median', fmt(median(overheads))],
    ['overhead per batch, max', fmt(Math.max(...overheads))],
    ['coordination per batch (tell + react), median', fmt(median(coordination))],
    ['coordination per batch (tell + react), max', fmt(Math.max(...coordination))],
    ['etcd writes (revisions) request → settled (teardowns done)', String(f.revisions)],
    ['etcd writes (revisions) per host update', (f.revisions / f.hosts).toFixed(1)],
    ['  of them up to the history entry (the window before 2026-12-04)', (f.revisionsToHistory / f.hosts).toFixed(1)],
    ['  key changes under the project (watch)', String(f.keyChanges)],
    ['  key changes per host update', (f.keyChanges / f.hosts).toFixed(1)],
    ['  per host update: agents\' status writes', (f.revisionsBy.status / f.hosts).toFixed(2)],
    ['  per host update: coordinator writes', (f.revisionsBy.coordinator / f.hosts).toFixed(2)],
    ['  per host update: other writes', (f.revisionsBy.other / f.hosts).toFixed(2)],
    ...coordinatorRows(f.coordinator),
  ]);
  if (f.state !== 'succeeded') console.log(`  ${f.state}: ${f.message?.slice(0, 600)}`);
  if (f.sample && !f.everyHost) console.log(`  status writes of ${f.sample.host} seen by the watch: ${f.sample.writes.join(' · ')}`);
  for (const h of f.everyHost ?? []) console.log(`  status writes of ${h.host} seen by the watch: ${h.writes.join(' · ')}`);
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

function coordinatorRows(c: CoordinatorFigures | undefined): string[][] {
  if (!c) return [];
  const rows = [[`coordinator memory (${c.where}), RSS`, mib(c.rssBytes)]];
  if (c.heapUsedBytes !== undefined) rows.push(['coordinator memory, heap used', mib(c.heapUsedBytes)]);
  if (c.passes !== undefined) {
    rows.push(['coordinator passes during the rollout (rollout steps planned)', `${c.passes} (${c.stepped})`]);
    rows.push(['coordinator pass time, mean / max', `${fmt(c.passMeanMs ?? NaN)} / ${fmt(c.passMaxMs ?? NaN)}`]);
    rows.push(['coordinator state writes / steps held back', `${c.stateWrites} / ${c.stateHeld}`]);
  }
  return rows;
}

/** Resident memory of a process, from /proc (Linux), bytes. */
function rssOf(pid: number | undefined): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
    return Number(line?.match(/(\d+)/)?.[1] ?? NaN) * 1024;
  } catch {
    return NaN;
  }
}

const statusOf = async (etcd: Etcd3, project: string, host: string) => {
  const text = await etcd.get(keys.status(project, host, 'web')).string();
  return text === null ? undefined : componentStatusSchema.parse(JSON.parse(text));
};

/** Every host's status at once, from one range read (a fleet of 500 polled one by one would load etcd itself). */
async function runningCount(etcd: Etcd3, project: string, version: string): Promise<number> {
  return runningIn(Object.entries(await etcd.getAll().prefix(keys.hostsPrefix(project)).strings()), version);
}

/** How many of these host records are web statuses running `version` in one container. */
function runningIn(records: Iterable<[string, string]>, version: string): number {
  let n = 0;
  for (const [key, value] of records) {
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

async function realFleet(count: number, variant: { label: string; config: Partial<ComponentInput> } = { label: 'gantryd + HAProxy + container', config: {} }): Promise<RolloutFigures> {
  const env = serviceEnv();
  const project = `bench-ro-${randomBytes(3).toString('hex')}`;
  const stateDir = mkdtempSync(join(tmpdir(), 'gantry-bench-rollout-'));
  const etcd = new Etcd3({ hosts: env.etcdEndpoints });
  let agents: AgentProcess[] = [];
  try {
    await etcd.put(keys.config(project)).value(JSON.stringify(demoConfig(PORT, { drainTimeout: 5_000, ...variant.config })));
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
    const f = await measureRollout(etcd, project, `real fleet (${count} ${variant.label})`, count, 'v2', { count: 2 }, 120_000 + count * 30_000);
    const leader = agents.find((a) => a.spec.hostId === f.coordinatorHost);
    if (leader) f.coordinator = { where: `gantryd ${leader.spec.hostId}, agent included`, rssBytes: rssOf(leader.pid) };
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
  const processes = SIM_PROCS > 0 ? SIM_PROCS : Math.max(1, Math.ceil(count / 2_500));
  let fleet: Awaited<ReturnType<typeof startSimulatedFleet>> | undefined;
  let coordinator: Awaited<ReturnType<typeof startCoordinatorProcess>> | undefined;
  try {
    const config = demoConfig(PORT, { readyChecks: [], healthChecks: [], drainTimeout: 1_000 });
    await etcd.put(keys.config(project)).value(JSON.stringify(config));
    await etcd.put(keys.fleetDesired(project, 'web')).value(JSON.stringify({ version: 'v1', setBy: 'bench' }));
    const startedAt = Date.now();
    fleet = await startSimulatedFleet({ etcd: env.etcdEndpoints, project, count, processes, startMs: SIM_START_MS, readyMs: SIM_READY_MS });
    const registeredMs = Date.now() - startedAt;
    // A fleet this size is read in pages (a single range of it is over gRPC's 4 MB message limit): a mirror of its statuses and registrations.
    const hosts = new Mirror<string>({ client: etcd, prefixes: [keys.hostsPrefix(project)], decode: (key, text) => (['status', 'registration'].includes(keys.parse(key)?.kind ?? '') ? text : undefined) });
    await hosts.start();
    let registrations = 0;
    try {
      await waitFor(() => runningIn(hosts.entries(), 'v1') === count, { timeoutMs: 120_000 + count * 200, intervalMs: 2_000, what: `${count} simulated hosts to run v1` });
      registrations = [...hosts.entries()].filter(([key]) => keys.parse(key)?.kind === 'registration').length;
    } finally {
      await hosts.stop();
    }
    coordinator = await startCoordinatorProcess({ etcd: env.etcdEndpoints, project, hostId: 'sim-coordinator' });
    await waitFor(async () => (await coordinator!.stats()).leader, { timeoutMs: 60_000, intervalMs: 200, what: 'the coordinator process to lead' });
    process.stderr.write(
      `  simulated fleet of ${count} in ${processes} process(es) (RSS ${fleet.rssBytes.map(mib).join(', ')}): all agents started after ${fmt(registeredMs)}, ${registrations} registrations in etcd, all at v1 after ${fmt(Date.now() - startedAt)}\n`,
    );
    // The v1 status writes settled (they do not count against the rollout; etcd applies what it
    // committed, so the request is no `too many requests`), and the coordinator sees every host.
    await waitFor(async () => (await coordinator!.stats()).registeredHosts === count, { timeoutMs: 60_000, intervalMs: 200, what: `the coordinator to see ${count} hosts` });
    await storeQuiet(etcd, 1_000, 60_000);
    const before = await coordinator.stats();
    const f = await measureRollout(etcd, project, `SIMULATION (${count} agents in ${processes} processes, in-memory engine, real etcd and coordinator)`, count, 'v2', { percent: 10 }, 60_000 + count * 100, SIM_START_MS + SIM_READY_MS, false);
    const after = await coordinator.stats();
    const passes = after.passes.passes - before.passes.passes;
    f.coordinator = {
      where: 'its own process',
      rssBytes: after.memory.rss,
      heapUsedBytes: after.memory.heapUsed,
      passes,
      stepped: after.passes.stepped - before.passes.stepped,
      passMeanMs: passes > 0 ? (after.passes.totalMs - before.passes.totalMs) / passes : NaN,
      passMaxMs: after.passes.maxMs,
      stateWrites: after.passes.stateWrites - before.passes.stateWrites,
      stateHeld: after.passes.stateHeld - before.passes.stateHeld,
    };
    return f;
  } finally {
    await coordinator?.stop();
    await fleet?.stop();
    await etcd.delete().prefix(keys.project(project));
    // What comes next (another size, another benchmark) meets an etcd that applied the fleet's end.
    await storeQuiet(etcd, 1_000, 60_000).catch(() => undefined);
    etcd.close();
  }
}

export async function benchRollout(): Promise<void> {
  const results: RolloutFigures[] = [];
  if (REAL.length + DEAF.length > 0) await ensureDemoImages();
  for (const n of REAL) {
    try {
      const f = await realFleet(n);
      report(f);
      results.push(f);
    } catch (err) {
      console.log(`\nreal fleet of ${n}: not measured: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  for (const n of DEAF) {
    try {
      const deaf = { label: `SIGTERM-deaf app, stopTimeout ${DEAF_STOP_TIMEOUT_MS / 1000} s`, config: { stopTimeout: DEAF_STOP_TIMEOUT_MS, environmentVariables: [{ name: 'APP_FLAVOR', value: 'deaf' }] } };
      const f = await realFleet(n, deaf);
      report(f);
      console.log(`  ${n} hosts in ${Math.ceil(n / 2)} batches: wall ${fmt(f.wallMs)}, against ${fmt(Math.ceil(n / 2) * DEAF_STOP_TIMEOUT_MS)} of stop timeouts alone had each batch waited for them`);
      results.push(f);
    } catch (err) {
      console.log(`\nreal fleet of ${n} (SIGTERM-deaf): not measured: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  for (const n of SIM) {
    try {
      const f = await simulatedFleet(n);
      report(f);
      results.push(f);
    } catch (err) {
      console.log(`\nSIMULATION with ${n} agents: not measured: ${(err as Error).message.split('\n')[0]}`, process.env.BENCH_DEBUG ? (err as Error).stack : '');
    }
  }
  if (results.length > 1) {
    printTable('Rollouts compared', ['fleet', 'hosts', 'batches', 'wall', 'overhead/batch median (max)', 'coordination/batch median (max)', 'etcd writes/host', 'coordinator RSS (heap)'], results.map((f) => [
      f.label.startsWith('SIMULATION') ? 'SIMULATION' : 'real',
      String(f.hosts),
      String(f.batches.length),
      fmt(f.wallMs),
      `${fmt(median(f.batches.map((b) => b.overheadMs)))} (${fmt(Math.max(...f.batches.map((b) => b.overheadMs)))})`,
      `${fmt(median(f.batches.map(coordinationMs)))} (${fmt(Math.max(...f.batches.map(coordinationMs)))})`,
      (f.revisions / f.hosts).toFixed(1),
      f.coordinator ? `${mib(f.coordinator.rssBytes)}${f.coordinator.heapUsedBytes !== undefined ? ` (${mib(f.coordinator.heapUsedBytes)})` : ''}` : '-',
    ]));
  }
}
