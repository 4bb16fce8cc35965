/**
 * FleetMirror against the real etcd: records parsed once per value, the first whole view told even
 * when a prefix is empty, a resync turned into the real differences only, a process's own writes
 * taken at once and never undone by an older event, and a listener that throws stopping nothing.
 */
import { randomBytes } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import { connectEtcd, FleetMirror, resolveConnectionOptions, type MirrorChange } from '@gantry/etcd';
import { KeyLayout, type FleetRecord } from '@gantry/spec';
import { serviceEnv, waitFor } from '@gantry/testkit';

const keys = new KeyLayout(`/gantry-mirror-${randomBytes(3).toString('hex')}/`);
const P = 'shop';
let etcd: Etcd3;
const mirrors: FleetMirror[] = [];

beforeAll(() => {
  etcd = connectEtcd(resolveConnectionOptions({ flags: { 'etcd-endpoints': serviceEnv().etcdEndpoints.join(',') }, env: {} }), { callTimeoutMs: 2000 });
});
afterAll(async () => {
  await Promise.all(mirrors.map((m) => m.stop()));
  await etcd.delete().prefix(keys.root);
  etcd.close();
});

function mirror(prefixes: string[]): { mirror: FleetMirror; batches: MirrorChange<FleetRecord>[][]; errors: string[] } {
  const errors: string[] = [];
  const m = new FleetMirror(keys, { client: etcd, prefixes, onError: (err) => errors.push(err.message) });
  mirrors.push(m);
  const batches: MirrorChange<FleetRecord>[][] = [];
  m.subscribe((changes) => batches.push(changes));
  return { mirror: m, batches, errors };
}

const status = (phase: string) => JSON.stringify({ phase, containers: [], updatedAt: new Date().toISOString() });

describe('FleetMirror', () => {
  it('tells listeners once the view is whole, even with nothing under a prefix', async () => {
    const { mirror: m, batches } = mirror([keys.hostsPrefix('empty-1'), keys.fleetDesiredPrefix('empty-1')]);
    await m.start();
    expect(m.synced).toBe(true);
    expect(batches).toEqual([[]]);
  });

  it('keeps every key as a record or a problem, and tells only real changes', async () => {
    await etcd.put(keys.status(P, 'h1', 'web')).value(status('running'));
    await etcd.put(`${keys.hostsPrefix(P)}h 2/status/web`).value(status('running'));
    await etcd.put(keys.registration(P, 'h1')).value('{not json');
    const { mirror: m, batches } = mirror([keys.hostsPrefix(P)]);
    await m.start();
    expect(m.value(keys.status(P, 'h1', 'web'), 'status')?.phase).toBe('running');
    expect([...m.problems()].map((r) => [r.key, r.problem])).toEqual(
      expect.arrayContaining([
        [`${keys.hostsPrefix(P)}h 2/status/web`, expect.stringMatching(/^ignored key: invalid host id "h 2"/)],
        [keys.registration(P, 'h1'), expect.stringMatching(/^invalid registration value: not valid JSON/)],
      ]),
    );
    const before = batches.length;
    await etcd.put(keys.status(P, 'h1', 'web')).value(status('draining'));
    await waitFor(() => m.value(keys.status(P, 'h1', 'web'), 'status')?.phase === 'draining', { what: 'the change' });
    await etcd.delete().key(keys.registration(P, 'h1'));
    await waitFor(() => m.get(keys.registration(P, 'h1')) === undefined, { what: 'the delete' });
    expect(batches.slice(before).map((b) => b.map((c) => [c.key, c.after ? 'put' : 'delete']))).toEqual([[[keys.status(P, 'h1', 'web'), 'put']], [[keys.registration(P, 'h1'), 'delete']]]);
    expect(m.modRevision(keys.status(P, 'h1', 'web'))).toBeGreaterThan(0);
  });

  it("takes this process's own write at once; its watch event and older events change nothing", async () => {
    const key = keys.rolloutState(P, 'web');
    const first = await etcd.put(key).value('{"old": true}');
    const { mirror: m, batches } = mirror([keys.rolloutsPrefix(P)]);
    await m.start();
    const res = await etcd.put(key).value('{"new": true}');
    m.assume(key, '{"new": true}', Number(res.header.revision));
    const told = batches.length;
    // An event older than what the mirror holds (as a late watch delivery would be) is ignored.
    (m as unknown as { apply: (c: unknown) => void }).apply({ type: 'put', key, value: '{"old": true}', revision: Number(first.header.revision) });
    expect(m.get(key)?.problem).toMatch(/invalid rollout state value/);
    expect(m.modRevision(key)).toBe(Number(res.header.revision));
    // The watch's own event for the write arrives and is the same value: nobody is told again.
    await etcd.put(keys.rolloutControl(P, 'web')).value('x'); // a later event proves the watch has caught up
    await waitFor(() => m.get(keys.rolloutControl(P, 'web')) !== undefined, { what: 'the later event' });
    expect(batches.slice(told).map((b) => b.map((c) => c.key))).toEqual([[keys.rolloutControl(P, 'web')]]);
    // A delete this process made stays deleted when an older put arrives late.
    const del = await etcd.delete().key(key);
    m.assume(key, undefined, Number(del.header.revision));
    (m as unknown as { apply: (c: unknown) => void }).apply({ type: 'put', key, value: '{"new": true}', revision: Number(res.header.revision) });
    expect(m.get(key)).toBeUndefined();
  });

  it('a listener that throws is reported; other listeners and the watch go on', async () => {
    const { mirror: m, errors } = mirror([keys.fleetDesiredPrefix(P)]);
    m.subscribe(() => {
      throw new Error('listener bug');
    });
    const seen: string[] = [];
    m.subscribe((changes) => seen.push(...changes.map((c) => c.key)));
    await m.start();
    await etcd.put(keys.fleetDesired(P, 'web')).value('{"version":"v2"}');
    await waitFor(() => seen.includes(keys.fleetDesired(P, 'web')), { what: 'the other listener to be told' });
    expect(errors).toContain('listener bug');
    await etcd.put(keys.fleetDesired(P, 'api')).value('{"version":"v3"}');
    await waitFor(() => m.value(keys.fleetDesired(P, 'api'), 'fleet-desired')?.version === 'v3', { what: 'the watch to go on' });
  });
});
