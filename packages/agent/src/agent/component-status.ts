import type { ComponentStatus } from '@gantry/spec';
import type { EngineEvent } from '../engine/events';
import type { ListedContainer } from '../engine/list';
import type { Teardown } from '../engine/teardown';

const iso = (d: Date) => d.toISOString();

/**
 * Folds engine events into a component's status record: the phase as work progresses, pull
 * progress, the draining container's live connections and deadline, health. Pure.
 */
export function applyEvent(status: ComponentStatus, event: EngineEvent, now: Date): ComponentStatus {
  const next: ComponentStatus = { ...status, updatedAt: iso(now) };
  switch (event.type) {
    // 'pull-started' also opens every no-op convergence (it checks the image is present): only
    // real progress means the host is pulling.
    case 'pull-progress':
      return { ...next, phase: 'pulling', pull: event.progress };
    case 'image-ready':
      return { ...next, pull: undefined, imageId: event.imageId };
    case 'container-started':
      return { ...next, phase: 'ready-checking' };
    case 'ready':
      return { ...next, phase: 'switching' };
    case 'not-ready':
      return { ...next, phase: 'failed' };
    case 'switched':
      return { ...next, phase: event.previous.length ? 'draining' : 'running' };
    case 'drain-started':
      return { ...next, phase: 'draining', drain: { container: event.container, connectionsLeft: 0, deadline: iso(event.deadline) } };
    case 'drain-progress':
      return { ...next, phase: 'draining', drain: { container: event.container, connectionsLeft: event.liveConnections, deadline: iso(event.deadline) } };
    case 'drained':
      return { ...next, drain: undefined };
    // A teardown runs in the background, after (and beside) the update that began it.
    case 'teardown-started':
      return { ...next, teardown: [...withoutTeardown(status.teardown, event.container), { container: event.container, since: iso(event.since), stopTimeoutMs: event.stopTimeoutMs }].slice(0, 100) };
    case 'teardown-done':
      return { ...next, teardown: orNone(withoutTeardown(status.teardown, event.container)), containers: status.containers.filter((c) => c.id !== event.container) };
    case 'teardown-failed':
      return { ...next, teardown: orNone(withoutTeardown(status.teardown, event.container)) };
    case 'health':
      return {
        ...next,
        health: { state: event.state, failing: event.failing, lastResults: status.health?.lastResults ?? [], checkedAt: iso(now) },
      };
    default:
      return status;
  }
}

const withoutTeardown = (teardown: ComponentStatus['teardown'], container: string) => (teardown ?? []).filter((t) => t.container !== container);
const orNone = <T>(list: T[]) => (list.length > 0 ? list : undefined);

/** The teardown part of a status: the teardowns running now, the oldest 100 (absent when none). */
export function teardownRecords(teardowns: Teardown[]): ComponentStatus['teardown'] {
  return orNone(teardowns.slice(0, 100).map((t) => ({ container: t.container, since: iso(t.since), stopTimeoutMs: t.stopTimeoutMs })));
}

/** The containers part of a status, from what `listComponent` observed. */
export function containerRecords(rows: ListedContainer[]): ComponentStatus['containers'] {
  return rows.map((r) => ({ id: r.id, version: r.version, role: r.role, state: r.state, startedAt: r.startedAt?.toISOString() }));
}

/** Two statuses that differ only in `updatedAt` need no write. */
export function sameStatus(a: ComponentStatus | undefined, b: ComponentStatus): boolean {
  if (!a) return false;
  return JSON.stringify({ ...a, updatedAt: '' }) === JSON.stringify({ ...b, updatedAt: '' });
}
