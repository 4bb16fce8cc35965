import type { ComponentStatus } from '@gantry/spec';
import type { StatusPace } from './status-writer';

/** Phases of work under way: a status in one of them is a step on the way, not where the host stands. */
const MOVING = new Set<ComponentStatus['phase']>(['pulling', 'starting', 'ready-checking', 'switching', 'draining', 'stopping']);

/**
 * A new step of work under way (an update begun, its phase moved): written once it has waited
 * half a second, and 250 ms after the write before. A step that lasts is seen; steps that pass
 * quicker (an image already pulled, a container started, a switch of a few ms) ride on the write
 * of the next, and an update done within the hold costs one write: its end.
 */
export const STEP_PACE: StatusPace = { spacingMs: 250, holdMs: 500 };
/** News within a step (a drain's connections left, a pull's bytes): at most once a second (held like a step: the writer keeps the shortest hold asked). */
export const PROGRESS_PACE: StatusPace = { spacingMs: 1_000, holdMs: 500 };
/** A pull is a step like the others: shown once it has lasted half a second (an image already there is "pulled" before). */
export const PULLING_PACE: StatusPace = { spacingMs: 1_000, holdMs: 500 };
/** A detail nobody waits for (a teardown's progress, a container row gone, the new image's id): rides on the next write, or goes within 3 s. */
export const DETAIL_PACE: StatusPace = { spacingMs: 3_000, holdMs: 3_000 };
/**
 * A preflight's answer cleared once that preflight is over: rides on the host's next write (its
 * update, when its batch comes), or goes within 30 s. What it said stays true (the host pulled
 * that version for that rollout), and on a write of its own every host of a later batch would
 * pay one more write per rollout.
 */
export const ANSWER_GONE_PACE: StatusPace = { spacingMs: 30_000, holdMs: 30_000 };

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
const tornDown = (s: ComponentStatus) => s.containers.filter((c) => c.role === 'tearing-down').map((c) => c.id);

/** A health report that is no news: healthy, where it was healthy or not yet checked (a ready check just passed). */
const healthNoNews = (prev: ComponentStatus, next: ComponentStatus) => next.health?.state === 'healthy' && (prev.health === undefined || prev.health.state === 'healthy');

/**
 * `next` says what `prev` said but for details: the preflight's answer gone, container rows gone,
 * teardowns going on or ended (a container being torn down stopping, exiting, removed), health
 * checks passing as they did (or for the first time), the new image ready (its id known, a
 * pull's progress gone: the next step follows), and a desired value observed that no rollout
 * waits for. A teardown or container row appearing, a pull's progress, a rollout's host key
 * observed, and health turning or turned bad, are news.
 */
function onlyDetailsChanged(prev: ComponentStatus, next: ComponentStatus): boolean {
  if (next.prepull !== undefined && JSON.stringify(next.prepull) !== JSON.stringify(prev.prepull)) return false;
  if (JSON.stringify(next.health) !== JSON.stringify(prev.health) && !healthNoNews(prev, next)) return false;
  if (!subset(ids(next.teardown), ids(prev.teardown)) || !subset(ids(next.containers), ids(prev.containers))) return false;
  const tearing = new Set(tornDown(prev));
  if (!subset(tornDown(next), [...tearing])) return false;
  // Compared without what is detail: rows of containers gone or being torn down.
  const kept = new Set(ids(next.containers));
  const pullDone = next.pull === undefined;
  // Only a rollout waits for a host to observe a desired value (its own host key): any other (the
  // fleet's key once a rollout deleted its host keys, a key written by hand) is a detail.
  const observedDetail = next.observed?.rollout === undefined;
  const rest = (s: ComponentStatus) =>
    JSON.stringify({
      ...s,
      updatedAt: '',
      prepull: undefined,
      teardown: undefined,
      health: undefined,
      imageId: undefined,
      ...(pullDone && { pull: undefined }),
      ...(observedDetail && { observed: undefined }),
      containers: s.containers.filter((c) => kept.has(c.id) && !tearing.has(c.id)),
    });
  return rest(prev) === rest(next);
}

/** The one change from `prev` to `next` is the preflight's answer gone. */
const onlyAnswerGone = (prev: ComponentStatus, next: ComponentStatus) =>
  prev.prepull !== undefined && next.prepull === undefined && JSON.stringify({ ...prev, prepull: undefined, updatedAt: '' }) === JSON.stringify({ ...next, updatedAt: '' });

/**
 * How soon a component's new status must be written (StatusWriter.set's pace), from the one
 * reported before it. At once: a failure, an update ending or changing its target, a preflight's
 * answer the coordinator waits for, anything settled. A step of work under way (an update begun,
 * a new phase, a pull) once it has lasted half a second; news within one, a second; details, a few
 * seconds; a preflight's answer cleared, with the next write (or in 30 s). So a
 * quick update costs a few writes, and the live view still sees every step that lasts.
 */
export function statusPace(prev: ComponentStatus | undefined, next: ComponentStatus): StatusPace {
  if (!prev || next.phase === 'failed') return {};
  // Nobody waits for an update's start (the coordinator dates it by its own write of the host key).
  if (next.targetVersion !== prev.targetVersion) return prev.targetVersion === undefined && isProgressStatus(next) ? STEP_PACE : {};
  if (next.prepull && next.prepull.state !== 'pulling' && next.prepull.state !== prev.prepull?.state) return {};
  if (onlyAnswerGone(prev, next)) return ANSWER_GONE_PACE;
  if (onlyDetailsChanged(prev, next)) return DETAIL_PACE;
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
