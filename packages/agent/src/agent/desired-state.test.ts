import fc from 'fast-check';
import { KeyLayout, recordMap } from '@gantry/spec';
import { layoutKey, storedText } from '@gantry/testkit';
import { hostIntent } from './desired-state';

const keys = new KeyLayout();
const config = JSON.stringify({ components: [{ name: 'web', repo: 'app' }, { name: 'worker', repo: 'app' }] });

describe('host intent', () => {
  it("prefers the host's own desired version over the fleet's", () => {
    const values = new Map([
      [keys.config('p'), config],
      [keys.fleetDesired('p', 'web'), '{"version":"v2"}'],
      [keys.hostDesired('p', 'h1', 'web'), '{"version":"v1"}'],
      [keys.fleetDesired('p', 'worker'), '{"version":"v3","state":"stopped"}'],
    ]);
    const intent = hostIntent(keys, 'p', 'h1', recordMap(keys, values));
    expect(intent.configProblems).toEqual([]);
    expect(intent.components.map((c) => [c.component.name, c.desired?.version, c.desired?.state, c.source])).toEqual([
      ['web', 'v1', 'running', keys.hostDesired('p', 'h1', 'web')],
      ['worker', 'v3', 'stopped', keys.fleetDesired('p', 'worker')],
    ]);
  });

  it('reports an invalid value by key, and an invalid host key never falls back to the fleet', () => {
    const values = new Map([
      [keys.config('p'), config],
      [keys.fleetDesired('p', 'web'), '{"version":"v2"}'],
      [keys.hostDesired('p', 'h1', 'web'), 'not json'],
      [keys.fleetDesired('p', 'worker'), '{"version":"has space"}'],
    ]);
    const [web, worker] = hostIntent(keys, 'p', 'h1', recordMap(keys, values)).components;
    expect(web.desired).toBeUndefined();
    expect(web.problems).toEqual([{ key: keys.hostDesired('p', 'h1', 'web'), reason: expect.stringMatching(/not valid JSON/) }]);
    expect(worker.desired).toBeUndefined();
    expect(worker.problems[0].reason).toMatch(/version: a Docker tag/);
  });

  it('keeps the last good config when the config key turns invalid', () => {
    const good = hostIntent(keys, 'p', 'h1', recordMap(keys, [[keys.config('p'), config]]));
    const bad = hostIntent(keys, 'p', 'h1', recordMap(keys, [[keys.config('p'), '{"components": []}']]), good.config);
    expect(bad.configProblems[0]).toEqual({ key: keys.config('p'), reason: expect.stringMatching(/at least one component/) });
    expect(bad.components.map((c) => c.component.name)).toEqual(['web', 'worker']);
  });
});

describe('host intent (property)', () => {
  const space = { layout: keys, projects: ['p'], hosts: ['h1', 'h2'], components: ['web', 'worker'] };

  it('never throws on any keys and values; acts only on valid records, and every invalid key is reported', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(layoutKey(space), storedText), { maxLength: 25 }), fc.boolean(), (entries, withConfig) => {
        const raw: Array<[string, string]> = withConfig ? [[keys.config('p'), config], ...entries] : entries;
        const records = recordMap(keys, raw);
        const intent = hostIntent(keys, 'p', 'h1', records);
        const reported = new Set([...intent.configProblems, ...intent.ignoredKeys, ...intent.components.flatMap((c) => c.problems)].map((p) => p.key));
        for (const c of intent.components) {
          if (c.desired) expect(records.get(c.source!)?.problem).toBeUndefined();
        }
        for (const prefix of [keys.fleetDesiredPrefix('p'), `${keys.host('p', 'h1')}desired/`]) {
          for (const [key, record] of records.entries(prefix)) if (record.problem !== undefined) expect(reported).toContain(key);
        }
      }),
      { numRuns: 500 },
    );
  });
});
