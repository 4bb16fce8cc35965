import { performance } from 'node:perf_hooks';
import type { Etcd3 } from 'etcd3';
import { deadlineIn, fencedCommit, FleetMirror, type FencedOp } from '@gantry/etcd';
import { DEFAULT_HISTORY_LIMIT, valueOf, type ComponentStatus, type DesiredVersion, type HostRegistration, type KeyLayout, type PrepullRequest, type RolloutRequest } from '@gantry/spec';
import type { KeyProblem } from '../agent/desired-state';
import type { Logger } from '../agent/logger';
import { Election } from './election';
import { DEFAULT_GONE_HOST_RETENTION_MS, hostKeys, sweepGoneHosts } from './gone-hosts';
import { historyOverflow, intoHistory, planCancel, planStep, type PlannedWrite, type RolloutMemory } from './planner';
import { stalePrepulls, type ActiveRollout } from './prepull-sweep';
import { chunksOf } from './txn-chunks';

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
    this.timer = setInterval(() => this.poke(), this.opts.tickMs ?? 1_000);
    this.timer.unref();
  }

  isLeader(): boolean {
    return this.election.isLeader();
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
    this.mirror = new FleetMirror(keys, {
      client: this.opts.etcd,
      prefixes: [keys.rolloutsPrefix(project), keys.hostsPrefix(project), keys.fleetDesiredPrefix(project)],
      onError: (err, prefix) => log.debug('rollout watch interrupted', { prefix, error: err.message }),
    });
    this.mirror.subscribe((changes) => {
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
    if (!mirror) return;
    const { keys, project, log } = this.opts;
    const problems: KeyProblem[] = [];
    for (const record of mirror.problems(keys.rolloutsPrefix(project))) problems.push({ key: record.key, reason: record.problem });
    for (const { ref } of [...mirror.records('rollout-request', keys.rolloutsPrefix(project))]) {
      if (this.stopped || !this.election.isLeader()) return;
      try {
        const problem = await this.stepRollout(mirror, ref.component);
        if (problem) problems.push(problem);
      } catch (err) {
        log.error('rollout step failed; retrying on the next change or tick', { component: ref.component, error: (err as Error)?.message, stack: (err as Error)?.stack });
        problems.push({ key: keys.rolloutRequest(project, ref.component), reason: `the coordinator could not step this rollout: ${(err as Error)?.message}` });
      }
    }
    // A state without its request: the request was deleted by hand. Cancel the rollout.
    for (const { ref } of [...mirror.records('rollout-state', keys.rolloutsPrefix(project))]) {
      if (this.stopped || !this.election.isLeader()) return;
      if (mirror.get(keys.rolloutRequest(project, ref.component))) continue;
      try {
        await this.cancelRollout(mirror, ref.component);
      } catch (err) {
        log.error('cancelling a rollout without request failed; retrying on the next change or tick', { component: ref.component, error: (err as Error)?.message });
      }
    }
    try {
      await this.sweepGoneHosts(mirror);
    } catch (err) {
      log.error('removing the keys of gone hosts failed; retrying on the next tick', { error: (err as Error)?.message });
    }
    try {
      await this.sweepPrepulls(mirror);
    } catch (err) {
      log.error('removing prepull keys of rollouts past their preflight failed; retrying on the next tick', { error: (err as Error)?.message });
    }
    this.reportProblems(problems);
  }

  /** Old history entries beyond the limit, to delete with the write of `keep`. */
  private historyTrim(mirror: FleetMirror, component: string, keep: string): PlannedWrite[] {
    const { keys, project } = this.opts;
    const prefix = keys.rolloutHistory(project, component);
    const entries = [...mirror.entries(prefix)].map(([key]) => ({ key, modRevision: mirror.modRevision(key) }));
    return historyOverflow(entries, this.opts.historyLimit ?? DEFAULT_HISTORY_LIMIT, keep).map((key) => ({ key }));
  }

  /** The rollout of `component` lost its request (deleted by hand): unpin its hosts, record it as cancelled. */
  private async cancelRollout(mirror: FleetMirror, component: string): Promise<void> {
    const { keys, project, log } = this.opts;
    const leaderValue = this.election.leaderValue;
    if (leaderValue === undefined) return;
    const stateKey = keys.rolloutState(project, component);
    const state = mirror.value(stateKey, 'rollout-state')!;
    const hostDesired = new Map<string, { value: DesiredVersion; modRevision: number }>();
    for (const { key, ref, value } of mirror.records('host-desired', keys.hostsPrefix(project))) if (ref.component === component) hostDesired.set(ref.host, { value, modRevision: mirror.modRevision(key) });
    const plan = planCancel({
      keys,
      project,
      component,
      state,
      stateRevision: mirror.modRevision(stateKey),
      lastRequest: this.lastRequests.get(component),
      recorded: mirror.get(keys.rolloutHistory(project, component, state.rollout)) !== undefined,
      hostDesired,
      prepulls: this.prepullsOf(mirror, component),
      fleetDesired: mirror.value(keys.fleetDesired(project, component), 'fleet-desired'),
      now: new Date(),
      coordinator: this.opts.hostId,
    });
    const historyKey = plan.entry ? keys.rolloutHistory(project, component, state.rollout) : undefined;
    const writes = [...plan.writes, ...(historyKey ? this.historyTrim(mirror, component, historyKey) : [])];
    const revision = await this.write(leaderValue, component, state.rollout, writes, plan.guards);
    if (revision === undefined) return;
    this.memory.delete(component);
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
  private async sweepPrepulls(mirror: FleetMirror): Promise<void> {
    const { keys, project, log } = this.opts;
    const leaderValue = this.election.leaderValue;
    if (leaderValue === undefined) return;
    const active = new Map<string, ActiveRollout>();
    for (const { ref, value } of mirror.records('rollout-request', keys.rolloutsPrefix(project))) {
      active.set(ref.component, { id: value.id, state: mirror.value(keys.rolloutState(project, ref.component), 'rollout-state') });
    }
    const stored = [...mirror.records('prepull', keys.hostsPrefix(project))].map(({ key, ref, value }) => ({ key, component: ref.component, value, modRevision: mirror.modRevision(key) }));
    const stale = stalePrepulls(stored, active);
    if (stale.length === 0 || this.stopped || !this.election.isLeader()) return;
    const revision = await this.write(leaderValue, '', 'stale prepull keys', stale.map((p) => ({ key: p.key, ifModRevision: p.modRevision })));
    if (revision !== undefined) log.info('removed prepull keys no preflight needs', { keys: stale.map((p) => p.key.slice(keys.project(project).length)) });
  }

  /** This component's prepull keys by host, with their mod revisions. */
  private prepullsOf(mirror: FleetMirror, component: string): Map<string, { value: PrepullRequest; modRevision: number }> {
    const { keys, project } = this.opts;
    const out = new Map<string, { value: PrepullRequest; modRevision: number }>();
    for (const { key, ref, value } of mirror.records('prepull', keys.hostsPrefix(project))) if (ref.component === component) out.set(ref.host, { value, modRevision: mirror.modRevision(key) });
    return out;
  }

  /** Plans and writes one step of the rollout of `component`; returns why it is held, if it is. */
  private async stepRollout(mirror: FleetMirror, component: string): Promise<KeyProblem | undefined> {
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
    const registrations = new Map<string, HostRegistration>();
    const statuses = new Map<string, ComponentStatus>();
    const hostDesired = new Map<string, DesiredVersion>();
    const hostDesiredRevisions = new Map<string, number>();
    const hosts = keys.hostsPrefix(project);
    for (const { ref, value } of mirror.records('registration', hosts)) registrations.set(ref.host, value);
    for (const { ref, value } of mirror.records('status', hosts)) if (ref.component === component) statuses.set(ref.host, value);
    for (const { key, ref, value } of mirror.records('host-desired', hosts)) {
      if (ref.component !== component) continue;
      hostDesired.set(ref.host, value);
      hostDesiredRevisions.set(ref.host, mirror.modRevision(key));
    }
    const step = planStep({
      keys,
      project,
      request,
      state,
      control,
      registrations,
      statuses,
      hostDesired,
      hostDesiredRevisions,
      prepulls: new Map([...this.prepullsOf(mirror, component)].map(([host, p]) => [host, p.value])),
      controlRevision: mirror.modRevision(controlKey),
      stateRevision: mirror.modRevision(stateKey),
      fleetDesired: mirror.value(keys.fleetDesired(project, component), 'fleet-desired'),
      now: new Date(),
      mono: this.clock(),
      memory: this.memory.get(component),
      coordinator: this.opts.hostId,
    });
    if (step.writes.length === 0) {
      this.memory.set(component, step.memory);
      return undefined;
    }
    const writes = step.finished ? [...step.writes, ...this.historyTrim(mirror, component, keys.rolloutHistory(project, component, request.id))] : step.writes;
    const revision = await this.write(leaderValue, component, request.id, writes);
    // Kept only once written: a step not written is planned again, from the memory before it.
    if (revision === undefined) return undefined;
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
      hosts: step.state.hosts.map((h) => `${h.id}:${h.result}`).join(','),
      writes: step.writes.map((w) => w.key.slice(keys.project(project).length)),
    });
    return undefined;
  }

  /**
   * Applies a step's writes in fenced chunks, each also holding on `guards` and on every write's
   * own `ifModRevision`; a lost fence hands leadership back. Resolves with the revision of the last
   * chunk once every chunk committed, undefined when one did not (it is planned again).
   */
  private async write(leaderValue: string, component: string, what: string, writes: PlannedWrite[], guards: Guard[] = []): Promise<number | undefined> {
    const { etcd, keys, project, log } = this.opts;
    const mirror = this.mirror;
    const electionKey = keys.coordinator(project);
    let revision: number | undefined;
    for (const chunk of chunksOf(writes, component ? keys.rollout(project, component) : '\u0000')) {
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
        log.warn('rollout step not written; retrying', { component, rollout: what, error: (err as Error).message });
        return undefined;
      }
      if (!committed.succeeded && (compares.length === 0 || committed.fenced)) {
        log.warn('rollout step fenced off: no longer the coordinator', { component, rollout: what });
        this.election.lostFence();
        return undefined;
      }
      if (!committed.succeeded) {
        log.info('write skipped: a key changed since read; planning again', { component, rollout: what });
        return undefined;
      }
      // Our own view is current at once: the next pass must not plan from the state before this step.
      for (const w of chunk) mirror?.assume(w.key, w.value, committed.revision);
      revision = committed.revision;
    }
    return revision;
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

/** The writes that end a rollout whose state cannot be read: history records it as given. */
function abandoned(keys: KeyLayout, project: string, request: RolloutRequest, message: string): PlannedWrite[] {
  const at = new Date().toISOString();
  return intoHistory(keys, project, { request, state: { rollout: request.id, state: 'aborted', message, hosts: [], batches: 0, currentBatch: 0, finishedAt: at, updatedAt: at } });
}

export { Election, type ElectionOptions } from './election';
export { historyOverflow, planCancel, planStep, type PlanInput, type PlanStep, type PlannedWrite, type RolloutHost, type RolloutMemory } from './planner';
export { DEFAULT_GONE_HOST_RETENTION_MS, parseDurationMs } from './gone-hosts';
