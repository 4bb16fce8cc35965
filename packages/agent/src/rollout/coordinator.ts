import { performance } from 'node:perf_hooks';
import type { Etcd3 } from 'etcd3';
import { deadlineIn, fencedCommit, FleetMirror, type FencedOp } from '@gantry/etcd';
import { DEFAULT_HISTORY_LIMIT, valueOf, type DesiredVersion, type KeyLayout, type PrepullRequest, type RolloutRequest, type RolloutState } from '@gantry/spec';
import type { KeyProblem } from '../agent/desired-state';
import type { Logger } from '../agent/logger';
import { Election } from './election';
import { DEFAULT_GONE_HOST_RETENTION_MS, hostKeys, sweepGoneHosts } from './gone-hosts';
import { historyOverflow, intoHistory, planCancel, planStep, type PlannedWrite, type RolloutMemory } from './planner';
import { stalePrepulls, type ActiveRollout } from './prepull-sweep';
import { changedFor, RolloutIndex } from './rollout-index';
import { refusedWrite } from './refused-write';
import { holdsBack } from './state-hold';
import { chunksOf } from './txn-chunks';

/**
 * How many chunks of one write are in flight at once (etcd applies them one by one; the round
 * trips overlap): a batch of 1,000 hosts (10 chunks) is told in one round.
 */
const PARALLEL_CHUNKS = 16;

/** A compare every transaction of a write holds on (besides the election fence): the key's mod revision (0: absent). */
type Guard = { key: string; modRevision: number };

export interface CoordinatorOptions {
  etcd: Etcd3;
  keys: KeyLayout;
  project: string;
  hostId: string;
  log: Logger;
  /** TTL of the election lease, seconds. */
  leaseTtlS?: number;
  /** How often the leader steps every active rollout even with no change in etcd (minReady, deadlines), ms. */
  tickMs?: number;
  /** Told what the leader cannot act on (invalid rollout keys and values), whenever that changes; [] when it stops leading. */
  onProblems?: (problems: KeyProblem[]) => void;
  /**
   * The coordinator's monotonic clock, ms (default `performance.now()`): minReady, the progress
   * deadlines and the gone-host retention are measured on it, never on timestamps in etcd.
   */
  clock?: () => number;
  /**
   * A state whose only news is hosts of the current batch done is held in memory
   * and written with the next step that must be written (the next batch, a failure), or after this
   * long (ms; default 1 ms per host of the rollout, at least 1000): one write per batch instead of
   * one per host.
   */
  stateHoldMs?: number;
  /** Finished rollouts kept in history per component; older entries are deleted as new ones are written. Default 50. */
  historyLimit?: number;
  /**
   * How long the status keys and agent record of a host whose registration is gone are kept, ms,
   * from when this coordinator saw it gone (default 24 h). Host-desired keys are never removed.
   */
  goneHostRetentionMs?: number;
}

/**
 * A candidate for the project's rollout coordinator. Every agent runs one; only the elected one
 * watches and drives: on every change under the rollouts, hosts and fleet-desired prefixes, and on a timer, it
 * plans one step of each active rollout and applies its writes in one transaction fenced on the
 * election key. A failed fence means another leads: it stops driving.
 *
 * Whatever is stored, a pass never throws out: a key that is not a valid record is reported
 * (`onProblems`, shown in this agent's record) and not acted on, and one component's trouble never
 * holds up another's rollout.
 */
export class RolloutCoordinator {
  private readonly election: Election;
  /** Only the leader mirrors the rollouts and every host: a follower's etcd traffic stays flat as the fleet grows. */
  private mirror?: FleetMirror;
  /** Set once the mirror delivered every prefix: no pass plans from a partial view. */
  private ready = false;
  private leadership: Promise<void> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  private running = false;
  private again = false;
  private stopped = false;
  private lastProblems = '[]';
  /** What this leader saw of each component's rollout (clocks, the canary pause); forgotten when it stops leading. */
  private readonly memory = new Map<string, RolloutMemory>();
  /** The last request seen per component, so a rollout whose request is deleted can still be recorded. */
  private readonly lastRequests = new Map<string, RolloutRequest>();
  /** When this leader first saw each host gone (registration absent, status left). */
  private goneSince = new Map<string, number>();
  private readonly clock: () => number;
  /** The leader's records by component and host, kept from the mirror's changes. */
  private index?: RolloutIndex;
  /** The tick asked for a pass: every rollout is stepped (its waits run on the clock), not only the changed ones. */
  private tickDue = false;
  /** Each component's problem from its last step (kept while it is not stepped again). */
  private readonly stepProblems = new Map<string, KeyProblem>();
  /** A write etcd refused (not a compare that failed), by component ('' for the coordinator's own sweeps): retried, and shown until one commits. */
  private readonly writeProblems = new Map<string, KeyProblem>();
  /** States planned but held back (see `stateHoldMs`), and since when (performance.now()). */
  private readonly held = new Map<string, { state: RolloutState; since: number }>();
  private readonly passStats = { passes: 0, stepped: 0, totalMs: 0, maxMs: 0, lastMs: 0, stateWrites: 0, stateHeld: 0 };

  constructor(private readonly opts: CoordinatorOptions) {
    this.clock = opts.clock ?? (() => performance.now());
    this.election = new Election({
      etcd: opts.etcd,
      key: opts.keys.coordinator(opts.project),
      hostId: opts.hostId,
      leaseTtlS: opts.leaseTtlS ?? 10,
      log: opts.log,
      onChange: (leader) => {
        // Serialised: a quick lose-and-win must not leave two mirrors.
        this.leadership = this.leadership
          .then(() => (leader ? this.lead() : this.follow()))
          .catch((err: Error) => void opts.log.error('coordinator leadership change failed', { error: err.message, stack: err.stack }));
      },
    });
  }

  async start(): Promise<void> {
    await this.election.start();
    this.timer = setInterval(() => {
      this.tickDue = true;
      this.poke();
    }, this.opts.tickMs ?? 1_000);
    this.timer.unref();
  }

  isLeader(): boolean {
    return this.election.isLeader();
  }

  /**
   * How many hosts this coordinator's view holds registered, undefined unless it leads with a synced
   * view. A rollout selects the hosts registered in that view when it starts (tests wait on it).
   */
  registeredHosts(): number | undefined {
    return this.mirror?.synced && this.election.isLeader() ? this.index?.registrations.size : undefined;
  }

  /** What this coordinator's passes cost so far: how many, how many rollout steps, their time on the clock (ms), state writes made and held back. */
  stats(): { passes: number; stepped: number; totalMs: number; maxMs: number; lastMs: number; stateWrites: number; stateHeld: number } {
    return { ...this.passStats };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.election.stop();
    await this.leadership;
    await this.follow();
  }

  private async lead(): Promise<void> {
    if (this.mirror || this.stopped) return;
    const { keys, project, log } = this.opts;
    this.ready = false;
    const index = new RolloutIndex(keys, project);
    this.index = index;
    this.mirror = new FleetMirror(keys, {
      client: this.opts.etcd,
      prefixes: [keys.rolloutsPrefix(project), keys.hostsPrefix(project), keys.fleetDesiredPrefix(project)],
      onError: (err, prefix) => log.debug('rollout watch interrupted', { prefix, error: err.message }),
    });
    this.mirror.subscribe((changes) => {
      index.apply(changes);
      for (const c of changes) {
        const request = valueOf(c.after, 'rollout-request') ?? valueOf(c.before, 'rollout-request');
        if (request) this.lastRequests.set(request.component, request);
      }
      this.poke();
    });
    await this.mirror.start();
    this.ready = true;
    this.poke();
  }

  private async follow(): Promise<void> {
    const mirror = this.mirror;
    this.mirror = undefined;
    this.ready = false;
    // Another coordinator may lead meanwhile: whoever leads next starts every clock afresh.
    this.memory.clear();
    this.lastRequests.clear();
    this.held.clear();
    this.stepProblems.clear();
    this.writeProblems.clear();
    this.index = undefined;
    this.goneSince = new Map();
    await mirror?.stop();
    this.reportProblems([]);
  }

  /** Runs a pass now, or right after the one under way. */
  private poke(): void {
    if (this.stopped || !this.ready || !this.election.isLeader()) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    // Each pass starts on a later turn of the event loop: the mirror applies the changes of one
    // etcd transaction one by one (a request and its control, a state and its request deleted
    // together), and a pass must see them all, never a half-applied transaction.
    const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
    void (async () => {
      try {
        do {
          this.again = false;
          await nextTurn();
          if (this.stopped || !this.ready || !this.election.isLeader()) break;
          await this.pass();
        } while (this.again && !this.stopped && this.ready && this.election.isLeader());
      } catch (err) {
        // pass() catches per component; this is the last owner of anything else. The tick tries again.
        this.opts.log.error('rollout pass failed', { error: (err as Error)?.message, stack: (err as Error)?.stack });
      } finally {
        this.running = false;
      }
    })();
  }

  /** One step of every active rollout; reports what cannot be acted on. */
  private async pass(): Promise<void> {
    const mirror = this.mirror;
    const index = this.index;
    // Never from a view whose prefixes are read at different revisions (re-reading after a disconnect).
    if (!mirror || !index || !mirror.synced) return;
    const { keys, project, log } = this.opts;
    const began = this.clock();
    // Only rollouts whose records changed are planned again; on a tick every one (minReady, deadlines).
    const tick = this.tickDue;
    this.tickDue = false;
    const changed = tick ? ({ all: true } as const) : index.takeChanged();
    if (tick) index.takeChanged();
    for (const component of [...this.stepProblems.keys()]) if (!index.requests.has(component)) this.stepProblems.delete(component);
    for (const component of [...index.requests]) {
      if (this.stopped || !this.election.isLeader()) return;
      if (!changedFor(changed, component)) continue;
      this.passStats.stepped++;
      try {
        const problem = await this.stepRollout(mirror, index, component);
        if (problem) this.stepProblems.set(component, problem);
        else this.stepProblems.delete(component);
      } catch (err) {
        log.error('rollout step failed; retrying on the next change or tick', { component, error: (err as Error)?.message, stack: (err as Error)?.stack });
        this.stepProblems.set(component, { key: keys.rolloutRequest(project, component), reason: `the coordinator could not step this rollout: ${(err as Error)?.message}` });
      }
    }
    // A state without its request: the request was deleted by hand. Cancel the rollout.
    for (const component of [...index.states]) {
      if (this.stopped || !this.election.isLeader()) return;
      if (mirror.get(keys.rolloutRequest(project, component)) || !changedFor(changed, component)) continue;
      try {
        await this.cancelRollout(mirror, index, component);
      } catch (err) {
        log.error('cancelling a rollout without request failed; retrying on the next change or tick', { component, error: (err as Error)?.message });
      }
    }
    // The sweeps walk every host: on a tick only, and only when hosts came or went or a gone host's clock runs.
    if (tick && (index.takeHostsTouched() || this.goneSince.size > 0)) {
      try {
        await this.sweepGoneHosts(mirror);
      } catch (err) {
        log.error('removing the keys of gone hosts failed; retrying on the next tick', { error: (err as Error)?.message });
      }
    }
    if (index.takePrepullsTouched() || tick) {
      try {
        await this.sweepPrepulls(mirror, index);
      } catch (err) {
        log.error('removing prepull keys of rollouts past their preflight failed; retrying on the next tick', { error: (err as Error)?.message });
      }
    }
    const problems: KeyProblem[] = [...index.rolloutProblems].map(([key, reason]) => ({ key, reason }));
    this.reportProblems([...problems, ...this.stepProblems.values(), ...this.writeProblems.values()]);
    const ms = this.clock() - began;
    this.passStats.passes++;
    this.passStats.totalMs += ms;
    this.passStats.lastMs = ms;
    this.passStats.maxMs = Math.max(this.passStats.maxMs, ms);
  }

  /** Old history entries beyond the limit, to delete with the write of `keep`. */
  private historyTrim(mirror: FleetMirror, component: string, keep: string): PlannedWrite[] {
    const { keys, project } = this.opts;
    const prefix = keys.rolloutHistory(project, component);
    const entries = [...mirror.entries(prefix)].map(([key]) => ({ key, modRevision: mirror.modRevision(key) }));
    return historyOverflow(entries, this.opts.historyLimit ?? DEFAULT_HISTORY_LIMIT, keep).map((key) => ({ key }));
  }

  /** The rollout of `component` lost its request (deleted by hand): unpin its hosts, record it as cancelled. */
  private async cancelRollout(mirror: FleetMirror, index: RolloutIndex, component: string): Promise<void> {
    const { keys, project, log } = this.opts;
    const leaderValue = this.election.leaderValue;
    if (leaderValue === undefined) return;
    const stateKey = keys.rolloutState(project, component);
    const state = mirror.value(stateKey, 'rollout-state')!;
    const records = index.of(component);
    const hostDesired = new Map<string, { value: DesiredVersion; modRevision: number }>();
    for (const [host, value] of records.hostDesired) hostDesired.set(host, { value, modRevision: mirror.modRevision(records.hostDesiredKeys.get(host)!) });
    const plan = planCancel({
      keys,
      project,
      component,
      state,
      stateRevision: mirror.modRevision(stateKey),
      lastRequest: this.lastRequests.get(component),
      recorded: mirror.get(keys.rolloutHistory(project, component, state.rollout)) !== undefined,
      hostDesired,
      prepulls: prepullsWithRevisions(mirror, index, component),
      fleetDesired: mirror.value(keys.fleetDesired(project, component), 'fleet-desired'),
      now: new Date(),
      coordinator: this.opts.hostId,
    });
    const historyKey = plan.entry ? keys.rolloutHistory(project, component, state.rollout) : undefined;
    const writes = [...plan.writes, ...(historyKey ? this.historyTrim(mirror, component, historyKey) : [])];
    const revision = await this.write(leaderValue, component, state.rollout, writes, plan.guards);
    if (revision === undefined) return;
    this.memory.delete(component);
    this.held.delete(component);
    if (plan.entry) log.info('rollout cancelled: its request was deleted', { component, rollout: state.rollout, unpinned: plan.unpinned });
    else log.info('cleared the state of a rollout without request', { component, rollout: state.rollout, state: state.state });
  }

  /** Removes the status keys and agent record of hosts gone longer than the retention (never their host-desired keys). */
  private async sweepGoneHosts(mirror: FleetMirror): Promise<void> {
    const { keys, project, log } = this.opts;
    const leaderValue = this.election.leaderValue;
    if (leaderValue === undefined) return;
    const sweep = sweepGoneHosts(hostKeys(keys, project, mirror.entries(keys.hostsPrefix(project))), this.goneSince, this.clock(), this.opts.goneHostRetentionMs ?? DEFAULT_GONE_HOST_RETENTION_MS);
    this.goneSince = sweep.goneSince;
    for (const h of sweep.expired) {
      if (this.stopped || !this.election.isLeader()) return;
      const deletes = [...h.statusKeys, ...(h.agentKey ? [h.agentKey] : [])].map((key) => ({ key, ifModRevision: mirror.modRevision(key) }));
      // Only while the host is still unregistered, and each key as it was read (a returning agent's new status stays).
      const revision = await this.write(leaderValue, '', `gone host ${h.host}`, deletes, [{ key: keys.registration(project, h.host), modRevision: 0 }]);
      if (revision !== undefined) log.info('removed the status keys of a gone host', { host: h.host, keys: deletes.map((d) => d.key.slice(keys.project(project).length)) });
    }
  }

  /** Deletes the prepull keys no active preflight needs (left by a crash between chunks, a cancel, or by hand), each only if unchanged since read. */
  private async sweepPrepulls(mirror: FleetMirror, index: RolloutIndex): Promise<void> {
    const { keys, project, log } = this.opts;
    const leaderValue = this.election.leaderValue;
    if (leaderValue === undefined) return;
    const active = new Map<string, ActiveRollout>();
    for (const component of index.requests) {
      const request = mirror.value(keys.rolloutRequest(project, component), 'rollout-request');
      if (request) active.set(component, { id: request.id, state: mirror.value(keys.rolloutState(project, component), 'rollout-state') });
    }
    const stored = [...index.prepullEntries()].map((p) => ({ ...p, modRevision: mirror.modRevision(p.key) }));
    const stale = stalePrepulls(stored, active);
    if (stale.length === 0 || this.stopped || !this.election.isLeader()) return;
    const revision = await this.write(leaderValue, '', 'stale prepull keys', stale.map((p) => ({ key: p.key, ifModRevision: p.modRevision })));
    if (revision !== undefined) log.info('removed prepull keys no preflight needs', { keys: stale.map((p) => p.key.slice(keys.project(project).length)) });
  }

  /** Plans and writes one step of the rollout of `component`; returns why it is held, if it is. */
  private async stepRollout(mirror: FleetMirror, index: RolloutIndex, component: string): Promise<KeyProblem | undefined> {
    const { keys, project, log } = this.opts;
    const leaderValue = this.election.leaderValue;
    if (leaderValue === undefined) return undefined;
    const request = mirror.value(keys.rolloutRequest(project, component), 'rollout-request')!;
    const stateKey = keys.rolloutState(project, component);
    const controlKey = keys.rolloutControl(project, component);
    const state = mirror.value(stateKey, 'rollout-state');
    const control = mirror.value(controlKey, 'rollout-control');
    if (mirror.get(stateKey) && !state) {
      // Never plan over a state nobody can read: re-planning from scratch could move hosts twice.
      // An abort still ends it, so the operator is never stuck.
      if (control?.rollout !== request.id || control.action !== 'abort') return { key: stateKey, reason: `rollout ${request.id} is held: its state is invalid (fix the key, or \`gantry rollout abort\`)` };
      const writes = abandoned(keys, project, request, `aborted by ${control.by}; its state at ${stateKey} was invalid`);
      await this.write(leaderValue, component, request.id, [...writes, ...this.historyTrim(mirror, component, keys.rolloutHistory(project, component, request.id))]);
      return undefined;
    }
    const records = index.of(component);
    // Planned from the state held back, if any (it is ahead of the stored one).
    const held = this.held.get(component);
    const base = held?.state.rollout === request.id && state?.rollout === request.id ? held.state : state;
    if (base !== held?.state) this.held.delete(component);
    const step = planStep({
      keys,
      project,
      request,
      state: base,
      control,
      registrations: index.registrations,
      statuses: records.statuses,
      hostDesired: records.hostDesired,
      // Read when asked: only the hosts in flight are.
      hostDesiredRevisions: { get: (host) => (records.hostDesiredKeys.has(host) ? mirror.modRevision(records.hostDesiredKeys.get(host)!) : undefined) },
      prepulls: records.prepulls,
      controlRevision: mirror.modRevision(controlKey),
      stateRevision: mirror.modRevision(stateKey),
      fleetDesired: mirror.value(keys.fleetDesired(project, component), 'fleet-desired'),
      now: new Date(),
      mono: this.clock(),
      memory: this.memory.get(component),
      coordinator: this.opts.hostId,
    });
    // Write batching, not a decision: on real time (a test's injected clock may stand still).
    const now = performance.now();
    // A big state costs etcd a megabyte a write: held 1 s per 1,000 hosts (at least 1 s).
    const holdMs = this.opts.stateHoldMs ?? Math.max(1_000, step.state.hosts.length);
    let stepWrites = step.writes;
    if (stepWrites.length === 0) {
      this.memory.set(component, step.memory);
      // Nothing new: a state held back long enough goes out now.
      if (!held || base !== held.state || now - held.since < holdMs) return undefined;
      stepWrites = [{ key: stateKey, value: JSON.stringify(held.state) }];
    } else if (state && holdsBack(stepWrites, stateKey, state, step.state) && now - (held?.since ?? now) < holdMs) {
      this.held.set(component, { state: step.state, since: held?.since ?? now });
      this.memory.set(component, step.memory);
      this.passStats.stateHeld++;
      return undefined;
    }
    const writes = step.finished ? [...stepWrites, ...this.historyTrim(mirror, component, keys.rolloutHistory(project, component, request.id))] : stepWrites;
    const revision = await this.write(leaderValue, component, request.id, writes);
    // Kept only once written: a step not written is planned again, from the memory before it.
    if (revision === undefined) return undefined;
    this.passStats.stateWrites++;
    this.held.delete(component);
    if (step.finished) this.memory.delete(component);
    else {
      // The canary pause is dated by the revision that stored it: a resume counts if written after it.
      if (step.state.pausedBy === 'canary') step.memory.canaryPausedRevision ??= revision;
      this.memory.set(component, step.memory);
    }
    log.info('rollout step', {
      component,
      rollout: request.id,
      state: step.state.state,
      batch: step.state.currentBatch,
      // Counted, not listed: a step of a 10,000-host rollout would log a megabyte.
      hosts: tally(step.state.hosts.map((h) => h.result)),
      writes: writes.length > 10 ? `${writes.length} keys` : writes.map((w) => w.key.slice(keys.project(project).length)),
    });
    return undefined;
  }

  /**
   * Applies a step's writes in fenced chunks, each also holding on `guards` and on every write's
   * own `ifModRevision`; a lost fence hands leadership back. Resolves with the revision of the last
   * chunk once every chunk committed, undefined when one did not (it is planned again).
   */
  private async write(leaderValue: string, component: string, what: string, writes: PlannedWrite[], guards: Guard[] = []): Promise<number | undefined> {
    const chunks = chunksOf(writes, component ? this.opts.keys.rollout(this.opts.project, component) : '\u0000');
    // The chunks before the last (host keys: independent of each other) go a few at a time, at
    // once; the last (the rollout's own records) only once all of them committed. A batch of 1,000
    // hosts is told in about one transaction's time, not ten.
    const last = chunks.pop()!;
    const fencedOff = () => {
      this.election.lostFence(); // once, however many chunks in flight were refused
      return undefined;
    };
    for (let i = 0; i < chunks.length; i += PARALLEL_CHUNKS) {
      const revisions = await Promise.all(chunks.slice(i, i + PARALLEL_CHUNKS).map((chunk) => this.writeChunk(leaderValue, component, what, chunk, guards)));
      if (revisions.includes('fenced')) return fencedOff();
      if (revisions.some((r) => r === undefined)) return undefined;
    }
    const revision = await this.writeChunk(leaderValue, component, what, last, guards);
    return revision === 'fenced' ? fencedOff() : revision;
  }

  /** One fenced transaction of a write; its revision, undefined when it did not commit, `fenced` when the fence refused it. */
  private async writeChunk(leaderValue: string, component: string, what: string, chunk: PlannedWrite[], guards: Guard[]): Promise<number | 'fenced' | undefined> {
    const { etcd, keys, project, log } = this.opts;
    const electionKey = keys.coordinator(project);
    // Before each chunk: by our own clock we may have lost the lease since the step was planned
    // (a pause, a stall); then nothing more is sent. (A write sent anyway is refused by the fence.)
    if (this.election.leaderValue !== leaderValue) {
      log.info('coordinator write held back: by its own clock its election lease may have expired', { component, rollout: what });
      return undefined;
    }
    const ops: FencedOp[] = chunk.map((w) => (w.value === undefined ? etcd.delete().key(w.key) : etcd.put(w.key).value(w.value)));
    const compares = [...guards, ...chunk.filter((w) => w.ifModRevision !== undefined).map((w) => ({ key: w.key, modRevision: w.ifModRevision! }))];
    let committed: { succeeded: boolean; revision: number; fenced: boolean };
    try {
      if (compares.length === 0) committed = { ...(await fencedCommit(etcd, { electionKey, leaderValue }, ops)), fenced: false };
      else committed = await guardedCommit(etcd, electionKey, leaderValue, compares, ops);
    } catch (err) {
      const problem = refusedWrite(component ? `rollout ${what} of ${component}` : what, chunk, err as Error);
      log.warn('rollout step not written; retrying', { component, rollout: what, key: problem.key, error: (err as Error).message });
      this.writeProblems.set(component, problem); // reported at the end of the pass
      return undefined;
    }
    this.writeProblems.delete(component);
    if (!committed.succeeded && (compares.length === 0 || committed.fenced)) {
      log.warn('rollout step fenced off: no longer the coordinator', { component, rollout: what });
      return 'fenced';
    }
    if (!committed.succeeded) {
      log.info('write skipped: a key changed since read; planning again', { component, rollout: what });
      return undefined;
    }
    // Our own view is current at once: the next pass must not plan from the state before this step.
    for (const w of chunk) this.mirror?.assume(w.key, w.value, committed.revision);
    return committed.revision;
  }

  private reportProblems(problems: KeyProblem[]): void {
    const signature = JSON.stringify(problems);
    if (signature === this.lastProblems) return;
    this.lastProblems = signature;
    this.opts.onProblems?.(problems);
  }
}

/**
 * One fenced transaction that also holds on `compares`; when it fails, `fenced` says whether the
 * election key no longer held our record (read in the same transaction), or only a compare failed.
 */
async function guardedCommit(etcd: Etcd3, electionKey: string, leaderValue: string, compares: Guard[], ops: FencedOp[]): Promise<{ succeeded: boolean; revision: number; fenced: boolean }> {
  let txn = etcd.if(electionKey, 'Value', '==', leaderValue);
  for (const c of compares) txn = txn.and(c.key, 'Mod', '==', c.modRevision);
  const res = await txn
    .then(...ops)
    .else(etcd.get(electionKey))
    .options(deadlineIn(5_000))
    .commit();
  if (res.succeeded) return { succeeded: true, revision: Number(res.header.revision), fenced: false };
  const held = res.responses[0]?.response_range?.kvs[0]?.value?.toString('utf8');
  return { succeeded: false, revision: Number(res.header.revision), fenced: held !== leaderValue };
}

/** `done:3,updating:2`. */
function tally(values: string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].map(([v, n]) => `${v}:${n}`).join(',');
}

/** This component's prepull keys by host, with their mod revisions. */
function prepullsWithRevisions(mirror: FleetMirror, index: RolloutIndex, component: string): Map<string, { value: PrepullRequest; modRevision: number }> {
  const records = index.of(component);
  return new Map([...records.prepulls].map(([host, value]) => [host, { value, modRevision: mirror.modRevision(records.prepullKeys.get(host)!) }]));
}

/** The writes that end a rollout whose state cannot be read: history records it as given. */
function abandoned(keys: KeyLayout, project: string, request: RolloutRequest, message: string): PlannedWrite[] {
  const at = new Date().toISOString();
  return intoHistory(keys, project, { request, state: { rollout: request.id, state: 'aborted', message, hosts: [], batches: 0, currentBatch: 0, finishedAt: at, updatedAt: at } });
}

export { Election, type ElectionOptions } from './election';
export { historyOverflow, planCancel, planStep, type PlanInput, type PlanStep, type PlannedWrite, type RolloutHost, type RolloutMemory } from './planner';
export { DEFAULT_GONE_HOST_RETENTION_MS, parseDurationMs } from './gone-hosts';
