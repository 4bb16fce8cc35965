import type { Etcd3 } from 'etcd3';
import { fencedWrite, PrefixWatcher, type FencedOp } from '@gantry/etcd';
import {
  componentStatusSchema,
  desiredVersionSchema,
  hostRegistrationSchema,
  rolloutControlSchema,
  rolloutRequestSchema,
  rolloutStateSchema,
  type ComponentStatus,
  type DesiredVersion,
  type HostRegistration,
  type KeyLayout,
} from '@gantry/spec';
import type { z } from 'zod';
import type { Logger } from '../agent/logger';
import { Election } from './election';
import { planStep } from './planner';
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
}

function parse<S extends z.ZodType>(schema: S, text: string | undefined): z.infer<S> | undefined {
  if (text === undefined) return undefined;
  try {
    const r = schema.safeParse(JSON.parse(text));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A candidate for the project's rollout coordinator. Every agent runs one; only the elected one
 * watches and drives: on every change under the rollouts, hosts and fleet-desired prefixes, and on a timer, it
 * plans one step of each active rollout and applies its writes in one transaction fenced on the
 * election key. A failed fence means another leads: it stops driving.
 */
export class RolloutCoordinator {
  private readonly values = new Map<string, string>();
  private readonly parseCache = new Map<string, { text: string; value: unknown }>();
  private readonly election: Election;
  /** Only the leader watches the rollouts and every host: a follower's etcd traffic stays flat as the fleet grows. */
  private watchers?: PrefixWatcher[];
  /** Set once every watcher delivered its first snapshot: no pass plans from a partial view. */
  private ready = false;
  private leadership: Promise<void> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  private running = false;
  private again = false;
  private stopped = false;

  constructor(private readonly opts: CoordinatorOptions) {
    this.election = new Election({
      etcd: opts.etcd,
      key: opts.keys.coordinator(opts.project),
      hostId: opts.hostId,
      leaseTtlS: opts.leaseTtlS ?? 10,
      log: opts.log,
      onChange: (leader) => {
        // Serialised: a quick lose-and-win must not leave two sets of watchers.
        this.leadership = this.leadership.then(() => (leader ? this.lead() : this.follow()));
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
    if (this.watchers || this.stopped) return;
    const { keys, project, log } = this.opts;
    this.values.clear();
    this.ready = false;
    this.watchers = [keys.rolloutsPrefix(project), keys.hostsPrefix(project), keys.fleetDesiredPrefix(project)].map(
      (prefix) =>
        new PrefixWatcher({
          client: this.opts.etcd,
          prefix,
          onSnapshot: (kvs) => {
            for (const key of [...this.values.keys()]) if (key.startsWith(prefix)) this.values.delete(key);
            for (const [k, v] of kvs) this.values.set(k, v);
            this.poke();
          },
          onChange: (c) => {
            if (c.type === 'put' && c.value !== undefined) this.values.set(c.key, c.value);
            else this.values.delete(c.key);
            this.poke();
          },
          onError: (err) => log.debug('rollout watch interrupted', { prefix, error: err.message }),
        }),
    );
    await Promise.all(this.watchers.map((w) => w.start()));
    this.ready = true;
    this.poke();
  }

  private async follow(): Promise<void> {
    const watchers = this.watchers;
    this.watchers = undefined;
    this.ready = false;
    await Promise.all((watchers ?? []).map((w) => w.stop()));
    this.values.clear();
    this.parseCache.clear();
  }

  /**
   * A key's value, validated, parsed once per distinct text: a pass runs on every change in the
   * fleet and reads every host, so re-parsing all of them each time would make a pass O(fleet) in
   * JSON work (it was most of the per-batch overhead at 500 hosts).
   */
  private parsed<S extends z.ZodType>(key: string, text: string, schema: S): z.infer<S> | undefined {
    const hit = this.parseCache.get(key);
    if (hit && hit.text === text) return hit.value as z.infer<S> | undefined;
    const value = parse(schema, text);
    this.parseCache.set(key, { text, value });
    return value;
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
      } finally {
        this.running = false;
      }
    })();
  }

  /** One step of every active rollout. */
  private async pass(): Promise<void> {
    const { keys, project, log } = this.opts;
    const rollouts = keys.rolloutsPrefix(project);
    const components = new Set<string>();
    for (const key of this.values.keys()) {
      if (key.startsWith(rollouts) && key.endsWith('/request') && key.split('/').length === rollouts.split('/').length + 1) {
        components.add(key.slice(rollouts.length, -'/request'.length));
      }
    }
    for (const component of components) {
      if (this.stopped) return;
      const leaderValue = this.election.leaderValue;
      if (leaderValue === undefined) return;
      const request = parse(rolloutRequestSchema, this.values.get(keys.rolloutRequest(project, component)));
      if (!request || request.component !== component) continue;
      const registrations = new Map<string, HostRegistration>();
      const statuses = new Map<string, ComponentStatus>();
      const hostDesired = new Map<string, DesiredVersion>();
      for (const [key, value] of this.values) {
        const parsed = keys.parse(key);
        if (!parsed || parsed.project !== project) continue;
        if (parsed.kind === 'registration') {
          const r = this.parsed(key, value, hostRegistrationSchema);
          if (r && r.hostId === parsed.host) registrations.set(parsed.host, r);
        } else if (parsed.kind === 'status' && parsed.component === component) {
          const s = this.parsed(key, value, componentStatusSchema);
          if (s) statuses.set(parsed.host, s);
        } else if (parsed.kind === 'host-desired' && parsed.component === component) {
          const d = this.parsed(key, value, desiredVersionSchema);
          if (d) hostDesired.set(parsed.host, d);
        }
      }
      const step = planStep({
        keys,
        project,
        request,
        state: parse(rolloutStateSchema, this.values.get(keys.rolloutState(project, component))),
        control: parse(rolloutControlSchema, this.values.get(keys.rolloutControl(project, component))),
        registrations,
        statuses,
        hostDesired,
        fleetDesired: parse(desiredVersionSchema, this.values.get(keys.fleetDesired(project, component))),
        now: new Date(),
        coordinator: this.opts.hostId,
      });
      if (step.writes.length === 0) continue;
      const { etcd } = this.opts;
      for (const writes of chunksOf(step.writes, keys.rollout(project, component))) {
        const ops: FencedOp[] = writes.map((w) => (w.value === undefined ? etcd.delete().key(w.key) : etcd.put(w.key).value(w.value)));
        let committed: boolean;
        try {
          committed = await fencedWrite(etcd, { electionKey: keys.coordinator(project), leaderValue }, ops);
        } catch (err) {
          log.warn('rollout step not written; retrying', { component, rollout: request.id, error: (err as Error).message });
          break;
        }
        if (!committed) {
          log.warn('rollout step fenced off: no longer the coordinator', { component, rollout: request.id });
          this.election.lostFence();
          return;
        }
        // Our own view is current at once: the next pass must not plan from the state before this step.
        for (const w of writes) (w.value === undefined ? this.values.delete(w.key) : this.values.set(w.key, w.value));
      }
      log.info('rollout step', {
        component,
        rollout: request.id,
        state: step.state.state,
        batch: step.state.currentBatch,
        hosts: step.state.hosts.map((h) => `${h.id}:${h.result}`).join(','),
        writes: step.writes.map((w) => w.key.slice(keys.project(project).length)),
      });
    }
  }
}

export { Election, type ElectionOptions } from './election';
export { planStep, type PlanInput, type PlanStep, type PlannedWrite, type RolloutHost } from './planner';
