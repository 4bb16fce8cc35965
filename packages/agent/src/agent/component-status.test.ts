import type { ComponentStatus } from '@gantry/spec';
import { applyEvent } from './component-status';

const at = new Date('2026-01-01T00:00:05Z');
const running: ComponentStatus = {
  phase: 'running',
  version: 'v2',
  containers: [
    { id: 'new', version: 'v2', role: 'serving', state: 'running' },
    { id: 'old', version: 'v1', role: 'tearing-down', state: 'running' },
  ],
  updatedAt: '2026-01-01T00:00:00Z',
};

describe('applyEvent: teardowns', () => {
  it('shows a teardown beside the phase, which stays running: the host was done before it began', () => {
    const next = applyEvent(running, { type: 'teardown-started', container: 'old', stopTimeoutMs: 10_000, since: at }, at);
    expect(next.phase).toBe('running');
    expect(next.teardown).toEqual([{ container: 'old', since: at.toISOString(), stopTimeoutMs: 10_000 }]);
  });

  it('drops the teardown and the container once it is done; no teardown left means no field', () => {
    const tearing = applyEvent(running, { type: 'teardown-started', container: 'old', stopTimeoutMs: 10_000, since: at }, at);
    const done = applyEvent(tearing, { type: 'teardown-done', container: 'old', elapsedMs: 10_100 }, at);
    expect(done.teardown).toBeUndefined();
    expect(done.containers.map((c) => c.id)).toEqual(['new']);
    expect('teardown' in JSON.parse(JSON.stringify(done))).toBe(false);
  });

  it('a failed teardown leaves the container listed (the next observation tries again) and the teardown off', () => {
    const tearing = applyEvent(running, { type: 'teardown-started', container: 'old', stopTimeoutMs: 10_000, since: at }, at);
    const failed = applyEvent(tearing, { type: 'teardown-failed', container: 'old', reason: 'docker is away' }, at);
    expect(failed.teardown).toBeUndefined();
    expect(failed.containers).toHaveLength(2);
    expect(failed.phase).toBe('running');
  });
});
