import { KeyLayout } from '@gantry/spec';
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
    const intent = hostIntent(keys, 'p', 'h1', values);
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
    const [web, worker] = hostIntent(keys, 'p', 'h1', values).components;
    expect(web.desired).toBeUndefined();
    expect(web.problems).toEqual([{ key: keys.hostDesired('p', 'h1', 'web'), reason: expect.stringMatching(/not valid JSON/) }]);
    expect(worker.desired).toBeUndefined();
    expect(worker.problems[0].reason).toMatch(/version: a Docker tag/);
  });

  it('keeps the last good config when the config key turns invalid', () => {
    const good = hostIntent(keys, 'p', 'h1', new Map([[keys.config('p'), config]]));
    const bad = hostIntent(keys, 'p', 'h1', new Map([[keys.config('p'), '{"components": []}']]), good.config);
    expect(bad.configProblems[0]).toEqual({ key: keys.config('p'), reason: expect.stringMatching(/at least one component/) });
    expect(bad.components.map((c) => c.component.name)).toEqual(['web', 'worker']);
  });
});
