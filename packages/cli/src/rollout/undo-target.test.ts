import type { RolloutHistoryEntry } from '@gantry/spec';
import { undoTarget } from './undo-target';

const policy = { batch: { count: 1 }, canary: 0, minReadySeconds: 0, progressDeadlineSeconds: 600, autoRollback: false, hosts: { all: true }, onHostLost: 'fail', preflight: true } as const;
type Host = RolloutHistoryEntry['state']['hosts'][number];
const entry = (id: string, to: string, finishedAt: string, outcome: RolloutHistoryEntry['state']['state'], hosts: Array<Partial<Host> & { id: string }>): RolloutHistoryEntry => ({
  request: { id, component: 'web', toVersion: to, policy, createdBy: 'ops@box', createdAt: '2026-12-01T00:00:00.000Z' },
  state: { rollout: id, state: outcome, toVersion: to, hosts: hosts.map((h) => ({ batch: 0, result: 'done', ...h })), batches: 1, currentBatch: 0, updatedAt: finishedAt, finishedAt },
});

describe('undoTarget', () => {
  it('is the version the hosts ran before the newest successful rollout, failed ones after it ignored', () => {
    const history = [
      entry('r-1', 'v2', '2026-12-01T01:00:00.000Z', 'succeeded', [{ id: 'h1', fromVersion: 'v1' }]),
      entry('r-2', 'v3', '2026-12-01T02:00:00.000Z', 'succeeded', [{ id: 'h1', fromVersion: 'v2' }, { id: 'h2', fromVersion: 'v2' }, { id: 'h3', fromVersion: 'v3' }]),
      entry('r-3', 'v4', '2026-12-01T03:00:00.000Z', 'failed', [{ id: 'h1', fromVersion: 'v3', result: 'failed' }]),
    ];
    expect(undoTarget(history)).toEqual({ ok: true, version: 'v2', rollout: 'r-2', toVersion: 'v3' });
  });

  it('refuses, saying why and asking for --to, with no success, no host moved, or hosts that ran different versions', () => {
    expect(undoTarget([])).toEqual({ ok: false, reason: expect.stringContaining('--to VERSION') });
    expect(undoTarget([entry('r-1', 'v2', '2026-12-01T01:00:00.000Z', 'rolled-back', [{ id: 'h1', fromVersion: 'v1' }])])).toMatchObject({ ok: false, reason: expect.stringMatching(/no rollout of it has succeeded/) });
    expect(undoTarget([entry('r-1', 'v2', '2026-12-01T01:00:00.000Z', 'succeeded', [{ id: 'h1' }, { id: 'h2', fromVersion: 'v2' }])])).toMatchObject({ ok: false, reason: expect.stringMatching(/r-1 \(to v2\) moved no host/) });
    expect(undoTarget([entry('r-1', 'v3', '2026-12-01T01:00:00.000Z', 'succeeded', [{ id: 'h1', fromVersion: 'v1' }, { id: 'h2', fromVersion: 'v2' }])])).toMatchObject({ ok: false, reason: expect.stringMatching(/different versions .*\(v1, v2\)/) });
  });

  it('counts only hosts that finished: a skipped host tells nothing of what the rollout replaced', () => {
    const history = [entry('r-1', 'v2', '2026-12-01T01:00:00.000Z', 'succeeded', [{ id: 'h1', fromVersion: 'v1' }, { id: 'h2', fromVersion: 'v0', result: 'skipped' }])];
    expect(undoTarget(history)).toMatchObject({ ok: true, version: 'v1' });
  });
});
