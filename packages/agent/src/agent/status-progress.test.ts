import type { ComponentStatus } from '@gantry/spec';
import { ANSWER_GONE_PACE, DETAIL_PACE, isProgressStatus, PROGRESS_PACE, PULLING_PACE, stampStatus, STEP_PACE, statusPace } from './status-progress';

const status = (patch: Partial<ComponentStatus>): ComponentStatus => ({ phase: 'running', containers: [], updatedAt: '2026-12-03T00:00:00.000Z', ...patch });

describe('isProgressStatus', () => {
  it('takes the steps of an update as progress, from the first status naming the target', () => {
    expect(isProgressStatus(status({ phase: 'running', version: 'v1', targetVersion: 'v2' }))).toBe(true);
    for (const phase of ['pulling', 'starting', 'ready-checking', 'switching', 'draining', 'stopping'] as const) expect(isProgressStatus(status({ phase, targetVersion: 'v2' }))).toBe(true);
  });

  it('takes what a rollout waits for as settled: running the target, stopped, idle, failed', () => {
    expect(isProgressStatus(status({ phase: 'running', version: 'v2' }))).toBe(false);
    expect(isProgressStatus(status({ phase: 'stopped' }))).toBe(false);
    expect(isProgressStatus(status({ phase: 'idle' }))).toBe(false);
    expect(isProgressStatus(status({ phase: 'failed', targetVersion: 'v2' }))).toBe(false);
  });
});

describe('stampStatus', () => {
  it('dates a status by its write; text that is not JSON is put as given', () => {
    const text = JSON.stringify(status({ phase: 'draining', targetVersion: 'v2' }));
    expect(JSON.parse(stampStatus(text, new Date('2026-12-03T10:00:00.000Z')))).toEqual({ ...JSON.parse(text), updatedAt: '2026-12-03T10:00:00.000Z' });
    expect(stampStatus('{"phase":', new Date())).toBe('{"phase":');
  });
});

describe('statusPace', () => {
  const running1 = status({ phase: 'running', version: 'v1', containers: [{ id: 'a', version: 'v1', role: 'serving', state: 'running' }] });
  it('a failure, a settled status, a target changing and a preflight answer go at once', () => {
    expect(statusPace(status({ phase: 'starting', version: 'v1', targetVersion: 'v2' }), status({ phase: 'starting', version: 'v1', targetVersion: 'v3' }))).toEqual({});
    expect(statusPace(status({ phase: 'starting', version: 'v1', targetVersion: 'v2' }), status({ phase: 'running', version: 'v1' }))).toEqual({});
    expect(statusPace(status({ phase: 'draining', targetVersion: 'v2' }), status({ phase: 'failed', targetVersion: 'v2' }))).toEqual({});
    expect(statusPace(status({ phase: 'draining', targetVersion: 'v2' }), status({ phase: 'running', version: 'v2' }))).toEqual({});
    const pulling = { ...running1, prepull: { rollout: 'r1', version: 'v2', image: 'app:v2', state: 'pulling' as const } };
    expect(statusPace(pulling, { ...running1, prepull: { ...pulling.prepull, state: 'pulled' } })).toEqual({});
  });

  it('an update beginning is a step: held until it lasts, so a quick one is written once, running', () => {
    expect(statusPace(running1, { ...running1, targetVersion: 'v2' })).toBe(STEP_PACE);
    expect(STEP_PACE.holdMs).toBeGreaterThan(0);
  });

  it('steps under way wait up to a second; a pull starting is held a little', () => {
    expect(statusPace(status({ phase: 'running', version: 'v1', targetVersion: 'v2' }), status({ phase: 'ready-checking', version: 'v1', targetVersion: 'v2' }))).toBe(STEP_PACE);
    const draining = status({ phase: 'draining', version: 'v1', targetVersion: 'v2', drain: { container: 'a', connectionsLeft: 3, deadline: '2026-12-03T00:00:10.000Z' } });
    expect(statusPace(draining, { ...draining, drain: { ...draining.drain!, connectionsLeft: 2 } })).toBe(PROGRESS_PACE);
    expect(statusPace(running1, { ...running1, prepull: { rollout: 'r1', version: 'v2', image: 'app:v2', state: 'pulling' } })).toBe(PULLING_PACE);
  });

  it('a preflight answer cleared rides on the next write (the update of the host, when its batch comes)', () => {
    const answered = { ...running1, prepull: { rollout: 'r1', version: 'v2', image: 'app:v2', state: 'pulled' as const } };
    expect(statusPace(answered, running1)).toBe(ANSWER_GONE_PACE);
    expect(ANSWER_GONE_PACE.holdMs).toBeGreaterThan(DETAIL_PACE.holdMs!);
    // Cleared with anything else that is news: that news's pace.
    expect(statusPace(answered, { ...running1, targetVersion: 'v2' })).toBe(STEP_PACE);
    expect(statusPace(answered, { ...running1, containers: [{ ...running1.containers[0], state: 'exited' }] })).toEqual({});
  });

  it("the new image ready within a step (its id, a pull's progress gone) is a detail; a pull's progress is news", () => {
    const begun = status({ phase: 'running', version: 'v1', targetVersion: 'v2', containers: running1.containers });
    expect(statusPace(begun, { ...begun, imageId: 'sha256:2' })).toBe(DETAIL_PACE);
    const pulling = { ...begun, phase: 'pulling' as const, pull: { layersDone: 1, layersTotal: 3, bytesDone: 10, bytesTotal: 30 } };
    expect(statusPace(pulling, { ...pulling, pull: { ...pulling.pull, layersDone: 2, bytesDone: 20 } })).toBe(PROGRESS_PACE);
    expect(statusPace(pulling, { ...pulling, pull: undefined, imageId: 'sha256:2' })).toBe(DETAIL_PACE);
    // The step after it is news as before.
    expect(statusPace({ ...begun, imageId: 'sha256:2' }, { ...begun, imageId: 'sha256:2', phase: 'ready-checking' })).toBe(STEP_PACE);
  });

  it("a desired value observed is news when a rollout wrote it (the coordinator waits), a detail otherwise", () => {
    const onHostKey = { ...running1, version: 'v2', observed: { key: '/gantry/v1/projects/p/hosts/h1/desired/web', modRevision: 7, rollout: 'r1' } };
    const onFleetKey = { ...onHostKey, observed: { key: '/gantry/v1/projects/p/desired/web', modRevision: 9 } };
    // The rollout over, its host key deleted: the host follows the fleet's key, at the same version.
    expect(statusPace(onHostKey, onFleetKey)).toBe(DETAIL_PACE);
    // A rollout's host key: at once, even at the version it runs.
    expect(statusPace(onFleetKey, { ...onFleetKey, observed: { key: onHostKey.observed.key, modRevision: 12, rollout: 'r2' } })).toEqual({});
  });

  it('details going away (a teardown, a container row) ride on the next write', () => {
    const tearingDown = status({ phase: 'running', version: 'v2', containers: [{ id: 'b', version: 'v2', role: 'serving', state: 'running' }, { id: 'a', version: 'v1', role: 'tearing-down', state: 'running' }], teardown: [{ container: 'a', since: '2026-12-03T00:00:00.000Z', stopTimeoutMs: 10_000 }] });
    expect(statusPace(tearingDown, { ...tearingDown, containers: [tearingDown.containers[0]], teardown: undefined })).toBe(DETAIL_PACE);
    // A teardown going on (its container exited, then removed) is detail too; a teardown appearing is news.
    const exited = { ...tearingDown, containers: [tearingDown.containers[0], { ...tearingDown.containers[1], state: 'exited' }] };
    expect(statusPace(tearingDown, exited)).toBe(DETAIL_PACE);
    expect(statusPace(exited, { ...exited, teardown: [{ ...tearingDown.teardown![0], stopTimeoutMs: 5_000 }] })).toBe(DETAIL_PACE);
    const serving2 = status({ phase: 'running', version: 'v2', containers: [tearingDown.containers[0]] });
    expect(statusPace(serving2, tearingDown)).toEqual({});
    // Health passing, first after the update or again, is detail; health turning bad is news.
    const checked = (state: 'healthy' | 'unhealthy') => ({ state, failing: [], lastResults: [{ check: 'http', ok: state === 'healthy', detail: 'GET /healthz', at: '2026-12-03T00:00:01.000Z' }], checkedAt: '2026-12-03T00:00:01.000Z' });
    expect(statusPace(tearingDown, { ...tearingDown, health: checked('healthy') })).toBe(DETAIL_PACE);
    expect(statusPace({ ...tearingDown, health: checked('healthy') }, { ...tearingDown, health: { ...checked('healthy'), checkedAt: '2026-12-03T00:00:02.000Z' } })).toBe(DETAIL_PACE);
    expect(statusPace({ ...tearingDown, health: checked('healthy') }, { ...tearingDown, health: checked('unhealthy') })).toEqual({});
    expect(statusPace({ ...tearingDown, health: checked('unhealthy') }, { ...tearingDown, health: checked('healthy') })).toEqual({});
    // A serving row that changes (its container exited) is no detail.
    expect(statusPace(running1, { ...running1, containers: [{ ...running1.containers[0], state: 'exited' }] })).toEqual({});
  });
});
