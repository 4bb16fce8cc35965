import { desiredVersionSchema } from './etcd-values';
import { KeyLayout } from './keys';
import { parseJson } from './validation';

describe('etcd key layout', () => {
  const keys = new KeyLayout();

  it('builds every key under /gantry/v1/ and parses each back', () => {
    const built = {
      config: keys.config('shop'),
      fleet: keys.fleetDesired('shop', 'web'),
      hostDesired: keys.hostDesired('shop', 'h1', 'web'),
      registration: keys.registration('shop', 'h1'),
      status: keys.status('shop', 'h1', 'web'),
      agent: keys.agent('shop', 'h1'),
      prepull: keys.prepull('shop', 'h1', 'web'),
    };
    expect(built).toEqual({
      config: '/gantry/v1/projects/shop/config',
      fleet: '/gantry/v1/projects/shop/desired/web',
      hostDesired: '/gantry/v1/projects/shop/hosts/h1/desired/web',
      registration: '/gantry/v1/projects/shop/hosts/h1/registration',
      status: '/gantry/v1/projects/shop/hosts/h1/status/web',
      agent: '/gantry/v1/projects/shop/hosts/h1/agent',
      prepull: '/gantry/v1/projects/shop/hosts/h1/prepull/web',
    });
    expect(Object.values(built).map((k) => keys.parse(k))).toEqual([
      { kind: 'config', project: 'shop' },
      { kind: 'fleet-desired', project: 'shop', component: 'web' },
      { kind: 'host-desired', project: 'shop', host: 'h1', component: 'web' },
      { kind: 'registration', project: 'shop', host: 'h1' },
      { kind: 'status', project: 'shop', host: 'h1', component: 'web' },
      { kind: 'agent', project: 'shop', host: 'h1' },
      { kind: 'prepull', project: 'shop', host: 'h1', component: 'web' },
    ]);
  });

  it('honours a custom prefix and ignores keys outside the layout', () => {
    const custom = new KeyLayout('/ops/deploy');
    expect(custom.config('shop')).toBe('/ops/deploy/v1/projects/shop/config');
    expect(custom.parse('/ops/deploy/v1/projects/shop/hosts/h1/unknown')).toBeUndefined();
    expect(custom.parse('/gantry/v1/projects/shop/config')).toBeUndefined();
    expect(() => new KeyLayout('gantry')).toThrow(/must start with "\/"/);
  });

  it('tells the host segment of any key under hosts/, valid or not', () => {
    expect(keys.hostSegment(keys.status('shop', 'h1', 'web'))).toBe('h1');
    expect(keys.hostSegment('/gantry/v1/projects/shop/hosts/h 1/whatever')).toBe('h 1');
    expect(keys.hostSegment(keys.config('shop'))).toBeUndefined();
    expect(keys.hostSegment('/elsewhere/hosts/h1/status/web')).toBeUndefined();
  });

  it('refuses names that would break the layout', () => {
    expect(() => keys.status('shop', 'h1/../h2', 'web')).toThrow(/invalid host id "h1\/..\/h2"/);
  });

  it('validates what other tooling writes, naming the key', () => {
    const key = keys.hostDesired('shop', 'h1', 'web');
    const bad = parseJson(desiredVersionSchema, '{"version": "v 2", "extra": 1}', key);
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.message).toMatch(/\/gantry\/v1\/projects\/shop\/hosts\/h1\/desired\/web is invalid/);
    const good = parseJson(desiredVersionSchema, '{"version": "v2"}', key);
    expect(good.ok && good.value).toEqual({ version: 'v2', state: 'running' });
  });
});
