import fc from 'fast-check';
import { applyConfigOverrides, parseConfigOverride } from './set-config';

const config = () => ({ components: [{ name: 'web', repo: 'quay.io/org/web', tag: 'v1', ports: [{ external: 80, container: 8080 }] }, { name: 'api', repo: 'quay.io/org/api' }] });
const apply = (raw: unknown, ...texts: string[]) => applyConfigOverrides(raw, texts.map(parseConfigOverride));

describe('--setconfig', () => {
  it('sets a field of the named component, as text or as JSON', () => {
    const out = apply(config(), 'web.tag=v2', 'api.readyTimeout=5000', 'api.privileged=true', 'web.command=["serve","--fast"]', 'web.user="1000"') as ReturnType<typeof config>;
    expect(out.components[0]).toMatchObject({ tag: 'v2', command: ['serve', '--fast'], user: '1000' });
    expect(out.components[1]).toMatchObject({ readyTimeout: 5000, privileged: true });
  });

  it('goes into lists and objects, creating what is missing, and leaves the input as it was', () => {
    const input = config();
    const out = apply(input, 'web.ports.0.external=81', 'web.ports[1].external=82', 'web.ports.1.container=9090', 'web.labels.team=core') as { components: Array<Record<string, unknown>> };
    expect(out.components[0]!.ports).toEqual([{ external: 81, container: 8080 }, { external: 82, container: 9090 }]);
    expect(out.components[0]!.labels).toEqual({ team: 'core' });
    expect(input.components[0]!.ports).toEqual([{ external: 80, container: 8080 }]);
  });

  it('a later override of the same field wins', () => {
    expect((apply(config(), 'web.tag=v2', 'web.tag=v3') as ReturnType<typeof config>).components[0]!.tag).toBe('v3');
  });

  it('refuses, naming the override, what it cannot mean', () => {
    expect(() => parseConfigOverride('web.tag')).toThrow('--setconfig web.tag: expected NAME.FIELD=VALUE');
    expect(() => parseConfigOverride('tag=v2')).toThrow('is not NAME.FIELD');
    expect(() => parseConfigOverride('web..tag=v2')).toThrow('is not NAME.FIELD');
    expect(() => apply(config(), 'web.__proto__.polluted=1')).toThrow('names no config field');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(() => apply(config(), 'db.tag=v2')).toThrow('--setconfig db.tag=v2: the config has no component "db" (it has: web, api)');
    expect(() => apply(config(), 'web.tag.x=1')).toThrow('web.tag is "v1", not an object or a list');
    expect(() => apply(config(), 'web.ports.x=1')).toThrow('web.ports is a list');
    expect(() => apply(config(), 'web.ports.5.external=1')).toThrow('would leave a hole');
  });

  it('never throws anything but its own error, whatever is written', () => {
    fc.assert(
      fc.property(fc.string(), fc.anything(), (text, raw) => {
        try {
          apply(raw, text);
        } catch (err) {
          expect((err as Error).name).toBe('ConfigOverrideError');
        }
      }),
    );
  });
});
