import { emptyDesired, findServer, normalizeDesired, parseDesired, sameDesired, withFrontends, withMaintenance, withoutServer, withServer } from './desired';
import type { Frontend } from './frontend';

const web: Frontend = { name: 'web', bindAddress: '127.0.1.2', port: 80, mode: 'http' };
const api: Frontend = { name: 'api', bindAddress: '127.0.1.2', port: 81, mode: 'http' };
const a = { name: 'a', address: '127.0.0.1', port: 1001, state: 'ready' as const };
const b = { name: 'b', address: '127.0.0.1', port: 1002, state: 'drain' as const };

describe('desired proxy', () => {
  it('keeps the servers of frontends that stay and drops the others', () => {
    let d = withFrontends(emptyDesired(), [web, api]);
    d = withServer(d, 'web', a);
    d = withServer(d, 'api', b);
    const next = withFrontends(d, [web]);
    expect(next).toEqual({ frontends: [web], servers: { web: [a] } });
  });

  it('rejects duplicate frontends and binds', () => {
    expect(() => withFrontends(emptyDesired(), [web, web])).toThrow(/listed twice/);
    expect(() => withFrontends(emptyDesired(), [web, { ...api, port: 80 }])).toThrow(/two frontends bind 127.0.1.2:80/);
  });

  it('adds, replaces and removes servers, sorted by name', () => {
    let d = withFrontends(emptyDesired(), [web]);
    d = withServer(d, 'web', b);
    d = withServer(d, 'web', a);
    expect(d.servers.web.map((s) => s.name)).toEqual(['a', 'b']);
    d = withServer(d, 'web', { ...a, state: 'maint' });
    expect(findServer(d, 'web', 'a')?.state).toBe('maint');
    expect(d.servers.web).toHaveLength(2);
    d = withoutServer(d, 'web', 'a');
    expect(d.servers.web).toEqual([b]);
    expect(withoutServer(d, 'web', 'never')).toEqual(d);
  });

  it('normalises so that equal contents compare equal', () => {
    const one = normalizeDesired({ frontends: [web, api], servers: { web: [b, a] } });
    const two = normalizeDesired({ frontends: [api, web], servers: { web: [a, b], api: [], gone: [a] } });
    expect(sameDesired(one, two)).toBe(true);
    expect(one.servers).toEqual({ api: [], web: [a, b] });
  });

  it('keeps the frontends in maintenance through every change of frontends and servers, also names no frontend has yet', () => {
    const answer = { message: 'back soon', since: '2026-12-03T09:00:00.000Z' };
    let d = withMaintenance(withFrontends(emptyDesired(), [web]), { web: answer, later: { ...answer, holdSeconds: 5 } });
    d = withServer(withFrontends(d, [web, api]), 'web', a);
    d = withoutServer(d, 'web', 'a');
    expect(d.maintenance).toEqual({ later: { ...answer, holdSeconds: 5 }, web: answer });
    expect(parseDesired(JSON.stringify(d))).toEqual(d);
    expect(withMaintenance(d, {})).not.toHaveProperty('maintenance');
  });

  it('round-trips through JSON and rejects other documents', () => {
    const d = withServer(withFrontends(emptyDesired(), [web]), 'web', a);
    expect(parseDesired(JSON.stringify(d))).toEqual(d);
    expect(() => parseDesired('{"foo":1}')).toThrow(/not a desired-proxy document/);
    expect(() => parseDesired('null')).toThrow(/not a desired-proxy document/);
  });
});
