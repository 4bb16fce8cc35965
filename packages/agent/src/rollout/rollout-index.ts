import { valueOf, type ComponentStatus, type DesiredVersion, type FleetRecord, type HostRegistration, type KeyLayout, type PrepullRequest } from '@gantry/spec';

/** One change of the coordinator's mirror (a key's record before and after; absent: none). */
export interface RecordChange {
  key: string;
  before?: FleetRecord;
  after?: FleetRecord;
}

/** What the planner reads of one component, by host id, with the keys (their mod revisions are the mirror's). */
export interface ComponentRecords {
  statuses: Map<string, ComponentStatus>;
  hostDesired: Map<string, DesiredVersion>;
  hostDesiredKeys: Map<string, string>;
  prepulls: Map<string, PrepullRequest>;
  prepullKeys: Map<string, string>;
}

/** Which components' rollouts may plan differently since the last `takeChanged`. */
export type Changed = { all: true } | { all: false; components: Set<string> };

/**
 * The coordinator's records indexed as it reads them, kept from the mirror's changes: each
 * component's statuses, host keys and prepull keys by host, the live registrations, which
 * components have a rollout request or state, and the invalid keys under the rollouts prefix.
 * A pass then reads what one component needs without walking every key of the fleet, and plans
 * only the components whose records changed: the work of a change is the size of the change.
 */
export class RolloutIndex {
  readonly registrations = new Map<string, HostRegistration>();
  /** Components with a valid request; with a valid state. */
  readonly requests = new Set<string>();
  readonly states = new Set<string>();
  /** Keys under the rollouts prefix that are not valid records, with the problem. */
  readonly rolloutProblems = new Map<string, string>();
  private readonly components = new Map<string, ComponentRecords>();
  private changed = new Set<string>();
  private allChanged = true;
  /** A prepull key, a request or a state changed: the sweep of stale prepull keys has something to look at. */
  private prepullsTouched = true;
  /** A registration, status or agent record came or went: the sweep of gone hosts has something to look at. */
  private hostsTouched = true;

  constructor(
    private readonly keys: KeyLayout,
    private readonly project: string,
  ) {}

  /** The records of `component` (empty maps when it has none). */
  of(component: string): ComponentRecords {
    let c = this.components.get(component);
    if (!c) this.components.set(component, (c = { statuses: new Map(), hostDesired: new Map(), hostDesiredKeys: new Map(), prepulls: new Map(), prepullKeys: new Map() }));
    return c;
  }

  /** Every component's prepull keys. */
  *prepullEntries(): IterableIterator<{ key: string; component: string; value: PrepullRequest }> {
    for (const [component, c] of this.components) for (const [host, value] of c.prepulls) yield { key: c.prepullKeys.get(host)!, component, value };
  }

  apply(changes: Iterable<RecordChange>): void {
    const rollouts = this.keys.rolloutsPrefix(this.project);
    for (const { key, before, after } of changes) {
      if (key.startsWith(rollouts)) {
        if (after?.problem !== undefined) this.rolloutProblems.set(key, after.problem);
        else this.rolloutProblems.delete(key);
      }
      const ref = (after ?? before)?.ref;
      if (!ref || ref.project !== this.project) continue;
      switch (ref.kind) {
        case 'registration': {
          const value = valueOf(after, 'registration');
          if (value) this.registrations.set(ref.host, value);
          else this.registrations.delete(ref.host);
          // Every rollout selects, loses or waits for hosts by their registrations.
          this.allChanged = true;
          this.hostsTouched = true;
          break;
        }
        case 'agent':
          this.hostsTouched = true;
          break;
        case 'status':
          setOrDelete(this.of(ref.component).statuses, ref.host, valueOf(after, 'status'));
          if (!before || !after) this.hostsTouched = true;
          this.changed.add(ref.component);
          break;
        case 'host-desired': {
          const c = this.of(ref.component);
          const value = valueOf(after, 'host-desired');
          setOrDelete(c.hostDesired, ref.host, value);
          setOrDelete(c.hostDesiredKeys, ref.host, value && key);
          this.changed.add(ref.component);
          break;
        }
        case 'prepull': {
          const c = this.of(ref.component);
          const value = valueOf(after, 'prepull');
          setOrDelete(c.prepulls, ref.host, value);
          setOrDelete(c.prepullKeys, ref.host, value && key);
          this.changed.add(ref.component);
          this.prepullsTouched = true;
          break;
        }
        case 'rollout-request':
          setOrDelete(this.requests, ref.component, valueOf(after, 'rollout-request') && true);
          this.changed.add(ref.component);
          this.prepullsTouched = true;
          break;
        case 'rollout-state':
          setOrDelete(this.states, ref.component, valueOf(after, 'rollout-state') && true);
          this.changed.add(ref.component);
          this.prepullsTouched = true;
          break;
        case 'rollout-control':
        case 'rollout-history':
        case 'fleet-desired':
          this.changed.add(ref.component);
          break;
        default:
          break;
      }
    }
  }

  /** What changed since the last call (everything, the first time), and forgets it. */
  takeChanged(): Changed {
    const out: Changed = this.allChanged ? { all: true } : { all: false, components: this.changed };
    this.allChanged = false;
    this.changed = new Set();
    return out;
  }

  /** Whether prepull keys, requests or states changed since the last call. */
  takePrepullsTouched(): boolean {
    const touched = this.prepullsTouched;
    this.prepullsTouched = false;
    return touched;
  }

  /** Whether registrations, status keys or agent records came or went since the last call. */
  takeHostsTouched(): boolean {
    const touched = this.hostsTouched;
    this.hostsTouched = false;
    return touched;
  }
}

function setOrDelete<V>(target: Map<string, V> | Set<string>, key: string, value: V | undefined): void {
  if (target instanceof Set) {
    if (value) target.add(key);
    else target.delete(key);
  } else if (value !== undefined) target.set(key, value);
  else target.delete(key);
}

/** Whether `component` may plan differently. */
export const changedFor = (changed: Changed, component: string): boolean => changed.all || changed.components.has(component);
