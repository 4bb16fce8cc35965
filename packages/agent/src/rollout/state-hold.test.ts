import type { RolloutState } from '@gantry/spec';
import { holdsBack } from './state-hold';

const KEY = '/gantry/v1/projects/p/rollouts/web/state';
const at = '2026-12-03T00:00:00.000Z';
const state = (results: RolloutState['hosts'][number]['result'][], patch: Partial<RolloutState> = {}): RolloutState => ({
  rollout: 'r1',
  state: 'running',
  hosts: results.map((result, i) => ({ id: `h${i + 1}`, batch: Math.floor(i / 2), result })),
  batches: 2,
  currentBatch: 0,
  updatedAt: at,
  ...patch,
});
const put = (s: RolloutState) => [{ key: KEY, value: JSON.stringify(s) }];

describe('holdsBack', () => {
  it('holds a state whose only news is hosts of the batch done', () => {
    const stored = state(['updating', 'ready', 'pending', 'pending']);
    const next = state(['done', 'done', 'pending', 'pending']);
    expect(holdsBack(put(next), KEY, stored, next)).toBe(true);
    // A host becoming ready starts a minReady wait: shown at once.
    const ready = state(['done', 'ready', 'pending', 'pending']);
    expect(holdsBack(put(ready), KEY, state(['updating', 'updating', 'pending', 'pending']), ready)).toBe(false);
  });

  it('writes at once: a new batch (host keys with it), a failure, a lost host, a state or pause change', () => {
    const stored = state(['updating', 'updating', 'pending', 'pending']);
    const nextBatch = state(['done', 'done', 'updating', 'updating'], { currentBatch: 1 });
    expect(holdsBack([{ key: '/gantry/v1/projects/p/hosts/h3/desired/web', value: '{}' }, ...put(nextBatch)], KEY, stored, nextBatch)).toBe(false);
    expect(holdsBack(put(nextBatch), KEY, stored, nextBatch)).toBe(false);
    const failed = state(['failed', 'updating', 'pending', 'pending']);
    expect(holdsBack(put(failed), KEY, stored, failed)).toBe(false);
    const lost = state(['skipped', 'updating', 'pending', 'pending']);
    expect(holdsBack(put(lost), KEY, stored, lost)).toBe(false);
    const paused = state(['done', 'updating', 'pending', 'pending'], { state: 'paused', pausedBy: 'operator' });
    expect(holdsBack(put(paused), KEY, stored, paused)).toBe(false);
    const history = [{ key: KEY }];
    expect(holdsBack(history, KEY, stored, state(['done', 'updating', 'pending', 'pending']))).toBe(false);
  });
});
