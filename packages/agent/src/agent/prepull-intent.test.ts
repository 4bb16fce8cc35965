import { KeyLayout, recordMap } from '@gantry/spec';
import { prepullIntent } from './prepull-intent';

const keys = new KeyLayout();
const config = { components: [{ name: 'web', repo: 'reg:5000/app' }] } as never;
const parsedConfig = JSON.stringify({ components: [{ name: 'web', repo: 'reg:5000/app' }, { name: 'pinned', repo: 'reg:5000/app', tag: 'v1', digest: `sha256:${'a'.repeat(64)}` }] });

describe('prepull intent', () => {
  it("asks for the config's repo with the request's version, per component of this host only", () => {
    const records = recordMap(keys, [
      [keys.config('p'), parsedConfig],
      [keys.prepull('p', 'h1', 'web'), '{"rollout":"r1","version":"v2"}'],
      [keys.prepull('p', 'h1', 'pinned'), '{"rollout":"r1","version":"v1"}'],
      [keys.prepull('p', 'h2', 'web'), '{"rollout":"r1","version":"v3"}'],
    ]);
    const { jobs, problems } = prepullIntent(keys, 'p', 'h1', records, JSON.parse(parsedConfig));
    expect(problems).toEqual([]);
    expect(Object.fromEntries(jobs)).toEqual({
      web: { component: 'web', rollout: 'r1', version: 'v2', image: 'reg:5000/app:v2' },
      // The config's own tag is run by its digest: pulled as the update will run it.
      pinned: { component: 'pinned', rollout: 'r1', version: 'v1', image: `reg:5000/app@sha256:${'a'.repeat(64)}` },
    });
  });

  it('names the key of an invalid value and of an unknown component, and asks nothing for them', () => {
    const records = recordMap(keys, [
      [keys.prepull('p', 'h1', 'web'), '{"rollout":"r1","version":"no spaces allowed"}'],
      [keys.prepull('p', 'h1', 'gone'), '{"rollout":"r1","version":"v2"}'],
    ]);
    const { jobs, problems } = prepullIntent(keys, 'p', 'h1', records, config);
    expect(jobs.size).toBe(0);
    expect(problems.map((p) => p.key).sort()).toEqual([keys.prepull('p', 'h1', 'gone'), keys.prepull('p', 'h1', 'web')].sort());
    expect(problems.find((p) => p.key.endsWith('/gone'))?.reason).toMatch(/config does not have/);
  });
});
