import { stalePrepulls, type ActiveRollout, type StoredPrepull } from './prepull-sweep';

const stored = (component: string, rollout: string, modRevision = 5): StoredPrepull => ({ key: `/hosts/h1/prepull/${component}#${rollout}`, component, value: { rollout, version: 'v2' }, modRevision });

describe('stalePrepulls', () => {
  it("keeps only the keys of a component's active rollout while it is in its preflight, or before its first state", () => {
    const active = new Map<string, ActiveRollout>([
      ['web', { id: 'r2', state: { rollout: 'r2', state: 'preflight' } }],
      ['api', { id: 'r3' }],
      ['db', { id: 'r4', state: { rollout: 'r4', state: 'running' } }],
      ['jobs', { id: 'r5', state: { rollout: 'r0', state: 'preflight' } }],
    ]);
    const keys = [stored('web', 'r2'), stored('web', 'r1'), stored('api', 'r3'), stored('db', 'r4'), stored('jobs', 'r5'), stored('gone', 'r9')];
    expect(stalePrepulls(keys, active).map((p) => p.key)).toEqual([
      '/hosts/h1/prepull/web#r1', // another rollout's
      '/hosts/h1/prepull/db#r4', // past its preflight
      '/hosts/h1/prepull/jobs#r5', // the stored state is a leftover of another rollout: this one's first step replaces it
      '/hosts/h1/prepull/gone#r9', // no rollout active at all
    ]);
  });
});
