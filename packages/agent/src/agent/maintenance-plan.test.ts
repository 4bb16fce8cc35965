import { KeyLayout, projectConfigSchema, recordMap } from '@gantry/spec';
import { planMaintenance } from './maintenance-plan';

const keys = new KeyLayout();
const config = projectConfigSchema.parse({
  components: [
    { name: 'web', repo: 'demo', ports: [{ external: 80, container: 8080, kind: 'http' }, { external: 5432, container: 5432, kind: 'tcp' }] },
    { name: 'api', repo: 'demo', ports: [{ external: 81, container: 8080, kind: 'http' }] },
  ],
});
const host = { hostId: 'h1', labels: { zone: 'a' } };
const since = '2026-12-03T09:00:00.000Z';
const on = (extra: object = {}) => JSON.stringify({ message: 'back soon', since, by: 'alice@ops', ...extra });
const plan = (values: Record<string, string>, applied = {}) => planMaintenance(keys, 'shop', host, recordMap(keys, Object.entries(values)), config, applied);

describe('planMaintenance', () => {
  it("answers 503 on a component's http frontends where the selector picks this host; its tcp ports keep serving", () => {
    const p = plan({ [keys.maintenance('shop', 'web')]: on({ holdSeconds: 5 }) });
    expect(p.answers).toEqual({ 'web-80': { message: 'back soon', since, holdSeconds: 5 } });
    expect(p.components.get('web')).toEqual({ message: 'back soon', since, holdSeconds: 5, httpPorts: [80], tcpPorts: [5432] });
    expect(p.components.get('api')).toBeUndefined();
    expect(p.problems).toEqual([]);
  });

  it('serves where the selector does not pick this host, by id or by label', () => {
    for (const hosts of [{ ids: ['h2'] }, { labels: { zone: 'b' } }]) {
      const p = plan({ [keys.maintenance('shop', 'web')]: on({ hosts }) });
      expect(p.answers).toEqual({});
      expect(p.components.get('web')).toBeUndefined();
    }
    expect(plan({ [keys.maintenance('shop', 'web')]: on({ hosts: { labels: { zone: 'a' } } }) }).answers).toHaveProperty('web-80');
    expect(plan({ [keys.maintenance('shop', 'web')]: on({ hosts: { ids: ['h2', 'h1'] } }) }).answers).toHaveProperty('web-80');
  });

  it('keeps what an invalid value would change, on or off, and names the key', () => {
    const key = keys.maintenance('shop', 'web');
    const applied = { 'web-80': { message: 'earlier', since } };
    const kept = plan({ [key]: '{"message": ' }, applied);
    expect(kept.answers).toEqual(applied);
    expect(kept.components.get('web')).toEqual({ message: 'earlier', since, httpPorts: [80], tcpPorts: [5432] });
    expect(kept.problems).toEqual([{ key, reason: expect.stringMatching(/^invalid maintenance value: not valid JSON.*; web answers as it did until the value is fixed or deleted$/) }]);
    const stillServing = plan({ [key]: on({ message: '' }) });
    expect(stillServing.answers).toEqual({});
    expect(stillServing.components.get('web')).toBeUndefined();
    expect(stillServing.problems[0]).toMatchObject({ key, reason: expect.stringMatching(/message/) });
  });

  it('turns off what the key no longer says, drops components gone from the config, and reports stray keys', () => {
    const p = plan({ [`${keys.maintenancePrefix('shop')}bad name`]: on(), [keys.maintenance('shop', 'gone')]: 'garbage' }, { 'web-80': { message: 'earlier', since }, 'gone-90': { message: 'x', since } });
    expect(p.answers).toEqual({});
    expect(p.problems.map((x) => x.key).sort()).toEqual([`${keys.maintenancePrefix('shop')}bad name`, keys.maintenance('shop', 'gone')]);
  });
});
