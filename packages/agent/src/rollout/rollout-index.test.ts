import { KeyLayout, parseRecord } from '@gantry/spec';
import { changedFor, RolloutIndex, type RecordChange } from './rollout-index';

const keys = new KeyLayout();
const P = 'p';
const at = '2026-12-03T00:00:00.000Z';
const put = (key: string, value: unknown, before?: RecordChange['before']): RecordChange => ({ key, before, after: parseRecord(keys, key, typeof value === 'string' ? value : JSON.stringify(value)) });
const del = (change: RecordChange): RecordChange => ({ key: change.key, before: change.after });
const status = (version: string) => ({ phase: 'running', version, containers: [], updatedAt: at });
const registration = (hostId: string) => ({ hostId, address: '127.0.0.1', labels: {}, agentVersion: 't', startedAt: at });

describe('rollout index', () => {
  it("keeps each component's statuses, host keys and prepull keys by host, and the live registrations", () => {
    const index = new RolloutIndex(keys, P);
    const s1 = put(keys.status(P, 'h1', 'web'), status('v1'));
    const d1 = put(keys.hostDesired(P, 'h1', 'web'), { version: 'v2' });
    index.apply([s1, put(keys.status(P, 'h1', 'api'), status('v9')), d1, put(keys.registration(P, 'h1'), registration('h1')), put(keys.prepull(P, 'h2', 'web'), { rollout: 'r1', version: 'v2', setAt: at })]);
    expect(index.of('web').statuses.get('h1')?.version).toBe('v1');
    expect(index.of('api').statuses.get('h1')?.version).toBe('v9');
    expect(index.of('web').hostDesired.get('h1')?.version).toBe('v2');
    expect(index.of('web').hostDesiredKeys.get('h1')).toBe(d1.key);
    expect([...index.prepullEntries()].map((p) => [p.component, p.value.rollout])).toEqual([['web', 'r1']]);
    expect([...index.registrations.keys()]).toEqual(['h1']);
    index.apply([del(s1), del(d1), { key: keys.registration(P, 'h1'), before: put(keys.registration(P, 'h1'), registration('h1')).after }]);
    expect(index.of('web').statuses.size).toBe(0);
    expect(index.of('web').hostDesired.size).toBe(0);
    expect(index.registrations.size).toBe(0);
  });

  it('an invalid value counts as absent; an invalid key under the rollouts prefix is a problem until fixed', () => {
    const index = new RolloutIndex(keys, P);
    const good = put(keys.status(P, 'h1', 'web'), status('v1'));
    index.apply([good]);
    index.apply([put(keys.status(P, 'h1', 'web'), '{"phase":', good.after)]);
    expect(index.of('web').statuses.has('h1')).toBe(false);
    const request = keys.rolloutRequest(P, 'web');
    index.apply([put(request, { nonsense: true })]);
    expect(index.requests.has('web')).toBe(false);
    expect(index.rolloutProblems.get(request)).toMatch(/rollout request/);
    index.apply([put(request, { id: 'r1', component: 'web', toVersion: 'v2', policy: {}, createdBy: 't', createdAt: at })]);
    expect(index.requests.has('web')).toBe(true);
    expect(index.rolloutProblems.size).toBe(0);
  });

  it('says which components changed: the ones whose records did; every one when a registration did', () => {
    const index = new RolloutIndex(keys, P);
    expect(index.takeChanged().all).toBe(true); // the first time: everything
    index.apply([put(keys.status(P, 'h1', 'web'), status('v1')), put(keys.rolloutControl(P, 'api'), { rollout: 'r1', action: 'pause', by: 't', at })]);
    const changed = index.takeChanged();
    expect(changedFor(changed, 'web')).toBe(true);
    expect(changedFor(changed, 'api')).toBe(true);
    expect(changedFor(changed, 'db')).toBe(false);
    expect(changedFor(index.takeChanged(), 'web')).toBe(false); // taken
    index.apply([put(keys.registration(P, 'h2'), registration('h2'))]);
    expect(changedFor(index.takeChanged(), 'db')).toBe(true);
  });

  it('tells the sweeps when they have something to look at', () => {
    const index = new RolloutIndex(keys, P);
    index.takeHostsTouched();
    index.takePrepullsTouched();
    const s1 = put(keys.status(P, 'h1', 'web'), status('v1'));
    index.apply([s1]);
    expect(index.takeHostsTouched()).toBe(true); // a status key came
    index.apply([put(keys.status(P, 'h1', 'web'), status('v2'), s1.after)]);
    expect(index.takeHostsTouched()).toBe(false); // a status changed: no host came or went
    expect(index.takePrepullsTouched()).toBe(false);
    index.apply([put(keys.prepull(P, 'h1', 'web'), { rollout: 'r1', version: 'v2', setAt: at })]);
    expect(index.takePrepullsTouched()).toBe(true);
  });
});
