import type { RolloutState } from '@gantry/spec';
import type { PlannedWrite } from './planner';

/**
 * What a host may move to without the move being news at once: the end of its update (or of its
 * rollback). Never failed nor lost; nor `ready`, which starts a minReady wait an operator watches.
 */
const ON_THE_WAY = new Set<RolloutState['hosts'][number]['result']>(['done', 'rolled-back']);

/**
 * Whether a planned step may be held back in the coordinator's memory (see `stateHoldMs`): its
 * only write is the state, and the state says what the stored one says but that hosts moved on
 * through to the end of their update (done). Nothing waits for that write: the hosts' keys are written,
 * and a new coordinator judges the same hosts again from their statuses. A new batch, a pause, a
 * failure, a lost host or a host becoming ready is written at once.
 */
export function holdsBack(writes: readonly PlannedWrite[], stateKey: string, stored: RolloutState, next: RolloutState): boolean {
  // A delete has no value; `in` rather than reading it: a state's value is made when first read (stateWrite).
  if (writes.length !== 1 || writes[0].key !== stateKey || !('value' in writes[0])) return false;
  if (stored.rollout !== next.rollout || stored.state !== next.state || stored.currentBatch !== next.currentBatch || stored.pausedBy !== next.pausedBy || stored.message !== next.message) return false;
  if (stored.hosts.length !== next.hosts.length) return false;
  for (let i = 0; i < next.hosts.length; i++) {
    const was = stored.hosts[i];
    const is = next.hosts[i];
    if (was === is) continue; // left alone by the step (planStep copies a host only to change it)
    if (was.id !== is.id) return false;
    if (was.result !== is.result && !ON_THE_WAY.has(is.result)) return false;
  }
  return true;
}
