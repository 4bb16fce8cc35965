import { KeyLayout, recordMap, rolloutPolicySchema, type RolloutRequest } from '@gantry/spec';
import { planLines, planRollout } from './deploy-plan';

const keys = new KeyLayout();
const P = 'shop';
const at = '2026-12-03T10:00:00.000Z';
const registration = (host: string, labels: Record<string, string> = {}) => [keys.registration(P, host), JSON.stringify({ hostId: host, address: '127.0.1.1', agentVersion: '0.1.0', startedAt: at, labels })] as [string, string];
const status = (host: string, fields: Record<string, unknown> = {}) => [keys.status(P, host, 'web'), JSON.stringify({ phase: 'running', version: 'v1', configHash: 'c1c1c1c1c1c1', updatedAt: at, ...fields })] as [string, string];
const request = (policy: Record<string, unknown> = {}): RolloutRequest => ({ id: 'r-1', component: 'web', toVersion: 'v2', configHash: 'c1c1c1c1c1c1', policy: rolloutPolicySchema.parse(policy), createdBy: 'ops@box', createdAt: at });

describe('planRollout', () => {
  it("cuts the coordinator's batches (canary first) over the registered hosts in id order, each with its current and target version", () => {
    const hosts = recordMap(keys, [registration('h3'), registration('h1'), registration('h2'), registration('h4'), status('h1'), status('h2', { version: 'v2' }), status('h3'), status('h4')]);
    const plan = planRollout({ keys, project: P, request: request({ canary: 1, batch: { count: 2 } }), hosts });
    expect(plan.batches.map((b) => [b.batch, b.canary, b.hosts.map((h) => h.id)])).toEqual([
      [0, true, ['h1']],
      [1, false, ['h2', 'h3']],
      [2, false, ['h4']],
    ]);
    expect(plan.batches[1]!.hosts[0]).toEqual({ id: 'h2', batch: 1, current: { version: 'v2', configHash: 'c1c1c1c1c1c1', phase: 'running' }, target: { version: 'v2', configHash: 'c1c1c1c1c1c1' }, changes: false });
    expect(plan.batches[0]!.hosts[0]!.changes).toBe(true);
    expect(plan.blockers).toEqual([]);
    const text = planLines(plan).join('\n');
    expect(text).toContain('3 batch(es), 4 host(s), 3 to update; nothing written');
    expect(text).toMatch(/1 \(canary\)\s+h1\s+v1 \(c1c1c1c1c1c1\)\s+v2 \(c1c1c1c1c1c1\)\s+update/);
    expect(text).toContain('nothing blocks it');
  });

  it('names what would block it: a lock, an active rollout, unregistered, unhealthy, failed and policy-refused hosts', () => {
    const hosts = recordMap(keys, [
      registration('h1'),
      registration('h2'),
      registration('h3'),
      status('h1', { health: { state: 'unhealthy', failing: ['http'] } }),
      status('h2', { phase: 'failed', lastError: { key: keys.hostDesired(P, 'h2', 'web'), reason: 'components[0].privileged: true is not allowed by this host\'s policy', at } }),
      status('gone'),
    ]);
    const plan = planRollout({ keys, project: P, request: request(), hosts, lockedBy: 'rita@laptop holds the lock of shop: "freeze"', activeRollout: 'r-0 (running)' });
    expect(plan.blockers.map((b) => [b.kind, b.host])).toEqual([
      ['locked', undefined],
      ['rollout-active', undefined],
      ['not-registered', 'gone'],
      ['unhealthy', 'h1'],
      ['failed', 'h2'],
      ['refused-by-policy', 'h2'],
    ]);
    expect(planLines(plan).join('\n')).toMatch(/h2 .*failed, refused-by-policy/);
  });

  it('selects by labels and ids as the coordinator does; no host selected blocks it, a named host not registered is left out', () => {
    const hosts = recordMap(keys, [registration('h1', { zone: 'a' }), registration('h2', { zone: 'b' })]);
    expect(planRollout({ keys, project: P, request: request({ hosts: { labels: { zone: 'b' } } }), hosts }).batches.flatMap((b) => b.hosts.map((h) => h.id))).toEqual(['h2']);
    const none = planRollout({ keys, project: P, request: request({ hosts: { labels: { zone: 'c' } } }), hosts });
    expect(none.batches).toEqual([]);
    expect(none.blockers.map((b) => b.kind)).toEqual(['no-hosts']);
    expect(planLines(none)).toContain('no host would take part');
    const named = planRollout({ keys, project: P, request: request({ hosts: { ids: ['h1', 'h9'] } }), hosts });
    expect(named.blockers).toEqual([{ host: 'h9', kind: 'not-registered', reason: expect.stringContaining('h9 is not registered') }]);
  });
});
