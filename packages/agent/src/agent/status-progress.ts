import type { ComponentStatus } from '@gantry/spec';
import type { StatusPace } from './status-writer';

/** Phases of work under way: a status in one of them is a step on the way, not where the host stands. */
const MOVING = new Set<ComponentStatus['phase']>(['pulling', 'starting', 'ready-checking', 'switching', 'draining', 'stopping']);

/** A new step of work under way (the phase moved): written at most every 250 ms, so a step that lasts is seen. */
export const STEP_PACE: StatusPace = { spacingMs: 250 };
/** News within a step (a drain's connections left, a pull's bytes): at most once a second. */
export const PROGRESS_PACE: StatusPace = { spacingMs: 1_000 };
/** A pull's first step waits a little: an image already there is pulled before it would show. */
export const PULLING_PACE: StatusPace = { spacingMs: 1_000, holdMs: 300 };
/** A detail nobody waits for (a preflight answer cleared, a teardown or container row gone): rides on the next write, or goes within 3 s. */
export const DETAIL_PACE: StatusPace = { spacingMs: 3_000, holdMs: 3_000 };

/**
 * Whether a component's status is a step of work under way, rather than a settled one that a
 * rollout waits for (running or stopped as asked, failed).
 */
export function isProgressStatus(status: ComponentStatus): boolean {
  if (status.phase === 'failed') return false;
  return MOVING.has(status.phase) || status.targetVersion !== undefined || status.prepull?.state === 'pulling';
}

const ids = (rows: Array<{ container?: string; id?: string }> | undefined) => (rows ?? []).map((r) => r.container ?? r.id);
const subset = (a: unknown[], of: unknown[]) => a.every((x) => of.includes(x));

/** `next` says what `prev` said but that details went: the preflight's answer, teardowns and container rows that ended. */
function onlyDetailsGone(prev: ComponentStatus, next: ComponentStatus): boolean {
  if (next.prepull !== undefined && JSON.stringify(next.prepull) !== JSON.stringify(prev.prepull)) return false;
  if (!subset(ids(next.teardown), ids(prev.teardown)) || !subset(ids(next.containers), ids(prev.containers))) return false;
  const kept = new Set(ids(next.containers));
  const rest = (s: ComponentStatus, containers: ComponentStatus['containers']) => JSON.stringify({ ...s, updatedAt: '', prepull: undefined, teardown: undefined, containers });
  return rest(prev, prev.containers.filter((c) => kept.has(c.id))) === rest(next, next.containers);
}

/**
 * How soon a component's new status must be written (StatusWriter.set's pace), from the one
 * reported before it. At once: a failure, an update beginning or ending (its target changes), a
 * preflight's answer the coordinator waits for, anything settled. A step of work under way may
 * wait 250 ms (a new phase) or a second (news within one); a detail going away, a few seconds. So a quick update costs a few writes,
 * and the live view still sees every step that lasts.
 */
export function statusPace(prev: ComponentStatus | undefined, next: ComponentStatus): StatusPace {
  if (!prev || next.phase === 'failed' || next.targetVersion !== prev.targetVersion) return {};
  if (next.prepull && next.prepull.state !== 'pulling' && next.prepull.state !== prev.prepull?.state) return {};
  if (onlyDetailsGone(prev, next)) return DETAIL_PACE;
  if (!isProgressStatus(next)) return {};
  if (!MOVING.has(next.phase) && next.targetVersion === undefined) return PULLING_PACE;
  return next.phase !== prev.phase ? STEP_PACE : PROGRESS_PACE;
}

/** A status's text with `updatedAt` set to `now` (when it is put): one that waited out the spacing says when it was written. */
export function stampStatus(text: string, now: Date): string {
  try {
    return JSON.stringify({ ...(JSON.parse(text) as ComponentStatus), updatedAt: now.toISOString() });
  } catch {
    return text; // never ours to fail on: written as it was given
  }
}
