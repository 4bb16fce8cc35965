import fc from 'fast-check';
import { invalidRecords, KeyLayout, recordMap, type RolloutHistoryEntry, type RolloutRequest, type RolloutState } from '@gantry/spec';
import { layoutKey, storedText } from '@gantry/testkit';
import { buildRolloutView, changeKey, controlRefusal, finishedEntry, historyCells, historyRows, hostCells, hostsLeft, pullBar, readRecords, statusesByHost, summaryLine } from './view-model';

const keys = new KeyLayout();
const where = { keys, project: 'p', component: 'web' };
const now = new Date('2026-01-01T00:01:00.000Z');
const request: RolloutRequest = {
  id: 'r-1',
  component: 'web',
  toVersion: 'v2',
  policy: { batch: { count: 2 }, canary: 0, minReadySeconds: 0, progressDeadlineSeconds: 600, autoRollback: false, hosts: { all: true }, onHostLost: 'fail', preflight: true },
  createdBy: 'ops@box',
  createdAt: '2026-01-01T00:00:00.000Z',
};
const state: RolloutState = {
  rollout: 'r-1',
  state: 'running',
  hosts: [
    { id: 'h1', batch: 0, fromVersion: 'v1', result: 'done', readySince: '2026-01-01T00:00:30.000Z' },
    { id: 'h2', batch: 1, fromVersion: 'v1', result: 'updating' },
    { id: 'h3', batch: 1, fromVersion: 'v1', result: 'updating' },
    { id: 'h4', batch: 2, fromVersion: 'v1', result: 'failed', error: 'not ready in time' },
  ],
  batches: 3,
  currentBatch: 1,
  startedAt: '2026-01-01T00:00:18.000Z',
  updatedAt: '2026-01-01T00:00:50.000Z',
};
const status = (fields: Record<string, unknown>) => JSON.stringify({ phase: 'running', version: 'v1', updatedAt: '2026-01-01T00:00:50.000Z', ...fields });

const rolloutEntries = (extra: Record<string, string> = {}) =>
  recordMap(keys, Object.entries({ [keys.rolloutRequest('p', 'web')]: JSON.stringify(request), [keys.rolloutState('p', 'web')]: JSON.stringify(state), ...extra }));
const hostEntries = recordMap(keys, [
  [keys.status('p', 'h1', 'web'), status({ version: 'v2', health: { state: 'healthy', failing: [], lastResults: [] } })],
  [keys.status('p', 'h2', 'web'), status({ phase: 'pulling', targetVersion: 'v2', pull: { layersDone: 3, layersTotal: 5, bytesDone: 45_000_000, bytesTotal: 98_000_000 } })],
  [keys.status('p', 'h3', 'web'), status({ phase: 'draining', version: 'v2', drain: { container: 'c', connectionsLeft: 2, deadline: '2026-01-01T00:01:20.000Z' } })],
  [keys.status('p', 'h4', 'web'), '{"phase": "exploded"'],
  [keys.status('p', 'h1', 'api'), status({ version: 'zzz' })],
  [keys.registration('p', 'h1'), '{}'],
] as Array<[string, string]>);

describe('the rollout view', () => {
  const records = readRecords(where, rolloutEntries());
  const view = buildRolloutView(request, records, statusesByHost(where, hostEntries), now);

  it('summarises state, batch, hosts done and elapsed time', () => {
    expect(view).toMatchObject({ id: 'r-1', state: 'running', batch: 2, batches: 3, hostsDone: 1, hostsTotal: 4, elapsedSeconds: 42, fromVersion: 'v1', toVersion: 'v2' });
    expect(summaryLine(view)).toBe('rollout r-1 v1 → v2: running, batch 2/3, hosts done 1/4, elapsed 42s');
  });

  it('shows one row per host of the rollout, with pull progress, ready state, draining and errors', () => {
    const cells = Object.fromEntries(view.rows.map((r) => [r.host, hostCells(r)]));
    expect(cells.h1).toEqual(['h1', '1', 'done', 'running', 'v1 → v2', '-', 'healthy, ready 30s', '-', '-']);
    expect(cells.h2).toEqual(['h2', '2', 'updating', 'pulling', 'v1 → v2', '[#####.....] 3/5 layers 45/98 MB', '-', '-', '-']);
    expect(cells.h3[7]).toBe('2 conns, 20s left');
    // An invalid status is left out: the host's row still shows the coordinator's view.
    expect(cells.h4).toEqual(['h4', '3', 'failed', '-', 'v1 → v2', '-', '-', '-', 'not ready in time']);
  });

  it("shows a host whose proxy answers 503 for the component (maintenance) beside its phase", () => {
    const maintenance = { message: 'back soon', since: '2026-01-01T00:00:00.000Z', httpPorts: [80], tcpPorts: [] };
    const withMaintenance = recordMap(keys, [[keys.status('p', 'h1', 'web'), status({ version: 'v2', maintenance })]]);
    const [h1] = buildRolloutView(request, readRecords(where, rolloutEntries()), statusesByHost(where, withMaintenance), now).rows;
    expect(h1).toMatchObject({ host: 'h1', phase: 'running, maintenance (503)', maintenance: true });
  });

  it("shows each host's pre-pull of this rollout in the preflight, with its progress; one of another rollout is not shown", () => {
    const preflight = readRecords(where, rolloutEntries({ [keys.rolloutState('p', 'web')]: JSON.stringify({ ...state, state: 'preflight', hosts: state.hosts.map((h) => ({ ...h, result: 'pending' })) }) }));
    const prepull = (rollout: string, fields: Record<string, unknown>) => ({ rollout, version: 'v2', image: 'app:v2', ...fields });
    const answers = recordMap(keys, [
      [keys.status('p', 'h1', 'web'), status({ prepull: prepull('r-1', { state: 'pulling', progress: { layersDone: 1, layersTotal: 2, bytesDone: 10_000_000, bytesTotal: 20_000_000 } }) })],
      [keys.status('p', 'h2', 'web'), status({ prepull: prepull('r-1', { state: 'pulled', imageId: 'sha256:1' }) })],
      [keys.status('p', 'h3', 'web'), status({ prepull: prepull('r-0', { state: 'failed', error: 'not found' }) })],
    ]);
    const view = buildRolloutView(request, preflight, statusesByHost(where, answers), now);
    expect(summaryLine(view)).toMatch(/: preflight,/);
    const cells = Object.fromEntries(view.rows.map((r) => [r.host, hostCells(r)]));
    expect(cells.h1.slice(3, 6)).toEqual(['running, pre-pull v2: pulling 1/2 layers 10/20 MB', 'v1 → v2', '[#####.....] 1/2 layers 10/20 MB']);
    expect(view.rows[1]).toMatchObject({ phase: 'running, pre-pull v2: pulled', prepull: 'pulled' });
    expect(view.rows[2]).toMatchObject({ phase: 'running' });
  });

  it('shows a done host whose old container still stops in the background, and that ticking seconds are no change', () => {
    const teardown = [{ container: 'c0ffee1234567890', since: '2026-01-01T00:00:57.000Z', stopTimeoutMs: 10_000 }];
    const tearing = recordMap(keys, [[keys.status('p', 'h1', 'web'), status({ version: 'v2', teardown })]]);
    const [h1] = buildRolloutView(request, records, statusesByHost(where, tearing), now).rows;
    expect(h1).toMatchObject({ host: 'h1', result: 'done', phase: 'running, old c0ffee123456 stopping 3s/10s' });
    const later = buildRolloutView(request, records, statusesByHost(where, tearing), new Date(now.getTime() + 2000));
    expect(later.rows[0].phase).toBe('running, old c0ffee123456 stopping 5s/10s');
    expect(changeKey(later)).toBe(changeKey(buildRolloutView(request, records, statusesByHost(where, tearing), now)));
  });

  it('is pending, without hosts, before the coordinator writes a state (or with a stale state of another rollout)', () => {
    const stale = readRecords(where, rolloutEntries({ [keys.rolloutState('p', 'web')]: JSON.stringify({ ...state, rollout: 'r-0' }) }));
    const pending = buildRolloutView(request, stale, new Map(), now);
    expect(pending).toMatchObject({ state: 'pending', batch: 0, batches: 0, hostsTotal: 0, rows: [], elapsedSeconds: 60 });
  });

  it('reports invalid values naming their key', () => {
    const bad = readRecords(where, rolloutEntries({ [keys.rolloutControl('p', 'web')]: '{"rollout": 1}' }));
    expect(bad.problems).toEqual([expect.stringContaining(keys.rolloutControl('p', 'web'))]);
  });

  it('changes only when something other than the clock moved', () => {
    const later = buildRolloutView(request, records, statusesByHost(where, hostEntries), new Date(now.getTime() + 5000));
    expect(changeKey(later)).toBe(changeKey(view));
    const paused = buildRolloutView(request, { ...records, state: { ...state, state: 'paused', pausedBy: 'operator' } }, statusesByHost(where, hostEntries), now);
    expect(changeKey(paused)).not.toBe(changeKey(view));
    expect(summaryLine(paused)).toContain('paused (by the operator)');
  });
});

describe('pullBar', () => {
  it('fills by bytes, or by layers when the size is unknown', () => {
    expect(pullBar({ layersDone: 5, layersTotal: 5, bytesDone: 98e6, bytesTotal: 98e6 })).toBe('[##########] 5/5 layers 98/98 MB');
    expect(pullBar({ layersDone: 1, layersTotal: 4, bytesDone: 0, bytesTotal: 0 })).toBe('[###.......] 1/4 layers 0/0 MB');
  });
});

describe('the end of a rollout, and history', () => {
  const entry = (id: string, outcome: RolloutState['state'], finishedAt: string): RolloutHistoryEntry => ({
    request: { ...request, id },
    state: { ...state, rollout: id, state: outcome, finishedAt },
  });

  it('is finished once the history entry exists and the state key no longer holds it', () => {
    const history = { [keys.rolloutHistory('p', 'web', 'r-1')]: JSON.stringify(entry('r-1', 'succeeded', '2026-01-01T00:02:00.000Z')) };
    expect(finishedEntry('r-1', readRecords(where, rolloutEntries(history)))).toBeUndefined();
    const moved = recordMap(keys, Object.entries(history));
    expect(finishedEntry('r-1', readRecords(where, moved))?.state.state).toBe('succeeded');
    expect(finishedEntry('r-2', readRecords(where, moved))).toBeUndefined();
  });

  it('lists finished rollouts newest first', () => {
    const rows = historyRows([entry('r-a', 'succeeded', '2026-01-01T00:02:00.000Z'), entry('r-b', 'failed', '2026-01-02T00:00:00.000Z')]);
    expect(rows.map((r) => [r.id, r.outcome])).toEqual([
      ['r-b', 'failed'],
      ['r-a', 'succeeded'],
    ]);
    expect(historyCells(rows[0])).toEqual(['r-b', 'v1 → v2', 'ops@box', '2026-01-01T00:00:18.000Z', '2026-01-02T00:00:00.000Z', 'failed', '4 (1 done, 1 failed)']);
  });
});

describe('rollout controls', () => {
  const control = (action: 'pause' | 'resume' | 'abort' | 'rollback', rollout = 'r-1') => ({ rollout, action, by: 'ann', at: '2026-01-01T00:00:00.000Z' });

  it('refuses what the coordinator would ignore, and never overwrites a pending abort or rollback', () => {
    const s = (state: RolloutState['state'], pausedBy?: 'canary' | 'operator') => ({ state, pausedBy });
    // Abort applies in every state not final.
    for (const st of ['pending', 'running', 'paused', 'rolling-back'] as const) expect(controlRefusal('abort', 'r-1', s(st))).toBeUndefined();
    expect(controlRefusal('abort', 'r-1', undefined)).toBeUndefined();
    expect(controlRefusal('pause', 'r-1', s('running'))).toBeUndefined();
    expect(controlRefusal('pause', 'r-1', s('paused', 'canary'))).toMatch(/already paused \(after its canary hosts\)/);
    expect(controlRefusal('pause', 'r-1', s('rolling-back'))).toMatch(/rolling back/);
    expect(controlRefusal('resume', 'r-1', s('paused', 'canary'))).toBeUndefined();
    expect(controlRefusal('resume', 'r-1', s('running'))).toBe('rollout r-1 is running, not paused: there is nothing to resume');
    expect(controlRefusal('resume', 'r-1', undefined)).toMatch(/is pending, not paused/);
    expect(controlRefusal('rollback', 'r-1', s('rolling-back'))).toMatch(/already rolling back/);
    expect(controlRefusal('abort', 'r-1', s('cancelled'))).toMatch(/already over \(cancelled\)/);
    expect(controlRefusal('pause', 'r-1', s('running'), control('abort'))).toMatch(/an abort of rollout r-1 by ann is pending/);
    expect(controlRefusal('resume', 'r-1', s('paused', 'operator'), control('rollback'))).toMatch(/a rollback .* is pending/);
    // Another rollout's leftover control is not this one's.
    expect(controlRefusal('pause', 'r-1', s('running'), control('abort', 'r-0'))).toBeUndefined();
    expect(controlRefusal('abort', 'r-1', s('running'), control('abort'))).toBeUndefined();
  });

  it('says where an aborted rollout left each host', () => {
    const entry: RolloutHistoryEntry = {
      request,
      state: {
        ...state,
        state: 'aborted',
        message: 'aborted by ann',
        hosts: [
          { id: 'h1', batch: 0, fromVersion: 'v1', result: 'done' },
          { id: 'h2', batch: 0, fromVersion: 'v1', result: 'done' },
          { id: 'h3', batch: 1, fromVersion: 'v1', result: 'updating' },
          { id: 'h4', batch: 2, fromVersion: 'v1', result: 'pending' },
          { id: 'h5', batch: 2, fromVersion: 'v1', result: 'pending' },
          { id: 'h6', batch: 0, fromVersion: 'v0', result: 'rolling-back' },
        ],
      },
    };
    const left = hostsLeft(entry);
    expect(left.text).toBe('hosts h1, h2 on v2; host h3 updating to v2; hosts h4, h5 untouched; host h6 rolling back to v0');
    expect(left.groups).toMatchObject({ 'on v2': ['h1', 'h2'], untouched: ['h4', 'h5'] });
  });

  it('shows a skipped host (lost its registration under --on-host-lost skip) in the summary, the history and where it was left', () => {
    const lost = 'host h2 lost its registration (lease expired) while updating to v2';
    const skippedState: RolloutState = {
      ...state,
      state: 'succeeded',
      finishedAt: '2026-01-01T00:02:00.000Z',
      hosts: [
        { id: 'h1', batch: 0, fromVersion: 'v1', result: 'done' },
        { id: 'h2', batch: 1, fromVersion: 'v1', result: 'skipped', error: lost },
        { id: 'h3', batch: 2, fromVersion: 'v1', result: 'done' },
      ],
    };
    const view = buildRolloutView(request, { state: skippedState, problems: [] }, new Map(), now);
    expect(view).toMatchObject({ hostsDone: 2, hostsSkipped: 1, hostsTotal: 3 });
    expect(summaryLine(view)).toContain('hosts done 2/3 (1 skipped)');
    expect(view.rows[1]).toMatchObject({ host: 'h2', result: 'skipped', error: lost });
    expect(historyCells(historyRows([{ request, state: skippedState }])[0])[6]).toBe('3 (2 done, 1 skipped)');
    expect(hostsLeft({ request, state: skippedState }).text).toBe(`hosts h1, h3 on v2; host h2 skipped (${lost})`);
  });

  it('shows a cancelled rollout in history like any other outcome', () => {
    const rows = historyRows([{ request, state: { ...state, state: 'cancelled', finishedAt: '2026-01-01T00:02:00.000Z' } }]);
    expect(rows[0]).toMatchObject({ id: 'r-1', outcome: 'cancelled' });
    expect(historyCells(rows[0])[5]).toBe('cancelled');
  });
});

describe('rollout view (property)', () => {
  const space = { layout: keys, projects: ['p'], hosts: ['h1', 'h2'], components: ['web', 'api'] };

  it('never throws on any keys and values under the rollouts and hosts prefixes, and lists every invalid key of this rollout or of none', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(layoutKey(space), storedText), { maxLength: 25 }), (entries) => {
        const source = recordMap(keys, entries);
        const records = readRecords(where, source);
        const view = buildRolloutView(request, records, statusesByHost(where, source), now);
        expect(typeof summaryLine(view)).toBe('string');
        view.rows.forEach(hostCells);
        for (const bad of invalidRecords(source, keys.rolloutsPrefix('p'))) {
          const belongs = bad.ref === undefined || ('component' in bad.ref && bad.ref.component === 'web');
          if (belongs) expect(records.problems).toContainEqual(expect.stringContaining(bad.key));
        }
      }),
      { numRuns: 500 },
    );
  });
});
