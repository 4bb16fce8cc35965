import type { Etcd3 } from 'etcd3';
import { fencedCommit, FleetMirror, type FencedOp } from '@gantry/etcd';
import type { ComponentStatus, DesiredVersion, HostRegistration, KeyLayout, RolloutHistoryEntry, RolloutRequest } from '@gantry/spec';
import type { KeyProblem } from '../agent/desired-state';
import type { Logger } from '../agent/logger';
import { Election } from './election';
import { planStep, type PlannedWrite } from './planner';
import { chunksOf } from './txn-chunks';

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

  constructor(private readonly opts: CoordinatorOptions) {
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
    this.mirror.subscribe(() => this.poke());
    await this.mirror.start();
    this.ready = true;
    this.poke();
  }

  private async follow(): Promise<void> {
    const mirror = this.mirror;
    this.mirror = undefined;
    this.ready = false;
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
    void (async () => {
      try {
        do {
          this.again = false;
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
    this.reportProblems(problems);
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
      await this.write(leaderValue, component, request, abandoned(keys, project, request, `aborted by ${control.by}; its state at ${stateKey} was invalid`));
      return undefined;
    }
    const registrations = new Map<string, HostRegistration>();
    const statuses = new Map<string, ComponentStatus>();
    const hostDesired = new Map<string, DesiredVersion>();
    const hosts = keys.hostsPrefix(project);
    for (const { ref, value } of mirror.records('registration', hosts)) registrations.set(ref.host, value);
    for (const { ref, value } of mirror.records('status', hosts)) if (ref.component === component) statuses.set(ref.host, value);
    for (const { ref, value } of mirror.records('host-desired', hosts)) if (ref.component === component) hostDesired.set(ref.host, value);
    const step = planStep({
      keys,
      project,
      request,
      state,
      control,
      registrations,
      statuses,
      hostDesired,
      fleetDesired: mirror.value(keys.fleetDesired(project, component), 'fleet-desired'),
      now: new Date(),
      coordinator: this.opts.hostId,
    });
    if (step.writes.length === 0) return undefined;
    await this.write(leaderValue, component, request, step.writes);
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

  /** Applies a step's writes in fenced chunks; a lost fence hands leadership back. */
  private async write(leaderValue: string, component: string, request: RolloutRequest, writes: PlannedWrite[]): Promise<void> {
    const { etcd, keys, project, log } = this.opts;
    const mirror = this.mirror;
    for (const chunk of chunksOf(writes, keys.rollout(project, component))) {
      const ops: FencedOp[] = chunk.map((w) => (w.value === undefined ? etcd.delete().key(w.key) : etcd.put(w.key).value(w.value)));
      let committed: { succeeded: boolean; revision: number };
      try {
        committed = await fencedCommit(etcd, { electionKey: keys.coordinator(project), leaderValue }, ops);
      } catch (err) {
        log.warn('rollout step not written; retrying', { component, rollout: request.id, error: (err as Error).message });
        return;
      }
      if (!committed.succeeded) {
        log.warn('rollout step fenced off: no longer the coordinator', { component, rollout: request.id });
        this.election.lostFence();
        return;
      }
      // Our own view is current at once: the next pass must not plan from the state before this step.
      for (const w of chunk) mirror?.assume(w.key, w.value, committed.revision);
    }
  }

  private reportProblems(problems: KeyProblem[]): void {
    const signature = JSON.stringify(problems);
    if (signature === this.lastProblems) return;
    this.lastProblems = signature;
    this.opts.onProblems?.(problems);
  }
}

/** The writes that end a rollout whose state cannot be read: history records it as given. */
function abandoned(keys: KeyLayout, project: string, request: RolloutRequest, message: string): PlannedWrite[] {
  const at = new Date().toISOString();
  const entry: RolloutHistoryEntry = { request, state: { rollout: request.id, state: 'aborted', message, hosts: [], batches: 0, currentBatch: 0, finishedAt: at, updatedAt: at } };
  return [
    { key: keys.rolloutHistory(project, request.component, request.id), value: JSON.stringify(entry) },
    { key: keys.rolloutRequest(project, request.component) },
    { key: keys.rolloutControl(project, request.component) },
    { key: keys.rolloutState(project, request.component) },
  ];
}

export { Election, type ElectionOptions } from './election';
export { planStep, type PlanInput, type PlanStep, type PlannedWrite, type RolloutHost } from './planner';
