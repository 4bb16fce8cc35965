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
import { TcpRelay } from '../support/tcp-relay';

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

  it('after a disconnect reads every prefix again at one revision: no whole view shows a host key gone beside the fleet value from before it', async () => {
    // The coordinator's order at the end of a rollout: the fleet's version first, then the host's key goes.
    const project = 'aligned';
    const hostKey = keys.hostDesired(project, 'h1', 'web');
    const fleetKey = keys.fleetDesired(project, 'web');
    await etcd.put(fleetKey).value(JSON.stringify({ version: 'v1', setBy: 'test' }));
    await etcd.put(hostKey).value(JSON.stringify({ version: 'v2', setBy: 'rollout r1', rollout: 'r1' }));
    const target = new URL(serviceEnv().etcdEndpoints[0]);
    const relay = new TcpRelay({ host: target.hostname, port: Number(target.port) });
    await relay.start();
    const client = connectEtcd(resolveConnectionOptions({ flags: { 'etcd-endpoints': `http://127.0.0.1:${relay.port}` }, env: {} }), { callTimeoutMs: 1000 });
    const m = new FleetMirror(keys, { client, prefixes: [keys.hostsPrefix(project), keys.fleetDesiredPrefix(project)], backoff: { minMs: 50, maxMs: 200 } });
    try {
      // Every whole view a listener is shown: [fleet version, host key present].
      const views: Array<[string | undefined, boolean]> = [];
      m.subscribe(() => {
        if (m.synced) views.push([m.value(fleetKey, 'fleet-desired')?.version, m.get(hostKey) !== undefined]);
      });
      await m.start();
      expect(views.at(-1)).toEqual(['v1', true]);

      relay.cut('reject');
      await waitFor(() => m.status().every((s) => !s.connected), { timeoutMs: 10_000, what: 'both watches lost' });
      await etcd.put(fleetKey).value(JSON.stringify({ version: 'v2', setBy: 'rollout r1' }));
      await etcd.delete().key(hostKey);
      const resyncsBefore = m.status().map((s) => s.resyncs);
      relay.heal();
      await waitFor(() => m.synced && m.get(hostKey) === undefined && m.value(fleetKey, 'fleet-desired')?.version === 'v2', { timeoutMs: 20_000, what: 'the mirror at the new values' });
      console.log(`whole views after the heal: ${JSON.stringify(views)}; resyncs ${JSON.stringify(resyncsBefore)} → ${JSON.stringify(m.status().map((s) => s.resyncs))}`);
      expect(views).not.toContainEqual(['v1', false]);
      expect(views.at(-1)).toEqual(['v2', false]);
      expect(m.status().every((s, i) => s.resyncs > resyncsBefore[i] || s.resyncs >= 1)).toBe(true);
    } finally {
      await m.stop();
      client.close();
      await relay.close();
    }
  }, 60_000);
});

