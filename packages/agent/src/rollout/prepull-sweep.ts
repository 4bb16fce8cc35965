import type { PrepullRequest, RolloutState } from '@gantry/spec';

/** A prepull key as the coordinator's mirror holds it. */
export interface StoredPrepull {
  key: string;
  component: string;
  value: PrepullRequest;
  modRevision: number;
}

/** What a component's rollout is now: its request's id (none: no rollout is active) and its state, if stored. */
export interface ActiveRollout {
  id: string;
  state?: Pick<RolloutState, 'rollout' | 'state'>;
}

/**
 * The prepull keys nobody needs any more: each names a rollout that is not the component's active
 * one, or one past its preflight. A step leaving the preflight deletes its keys itself; these are
 * what a crash between chunks, a cancel or a hand-written key leave. A key whose rollout is active
 * with no state yet is kept: its first step is being written. Pure.
 */
export function stalePrepulls(prepulls: Iterable<StoredPrepull>, active: ReadonlyMap<string, ActiveRollout>): StoredPrepull[] {
  return [...prepulls].filter((p) => {
    const rollout = active.get(p.component);
    if (rollout?.id !== p.value.rollout) return true;
    return rollout.state !== undefined && !(rollout.state.rollout === rollout.id && rollout.state.state === 'preflight');
  });
}
