import { KeyLayout } from '@gantry/spec';
import { CliError } from '../cli-error';
import { desiredValue, planSetVersion } from './set-version-plan';

const keys = new KeyLayout('/g/');
const P = 'shop';
const setAt = new Date('2025-01-01T12:00:00.000Z');

describe('desired value', () => {
  it('has version, setBy and setAt; state only when stopping', () => {
    expect(desiredValue({ version: 'v1.2', setBy: 'ann@box', setAt })).toEqual({ version: 'v1.2', setBy: 'ann@box', setAt: '2025-01-01T12:00:00.000Z' });
    expect(desiredValue({ version: 'v1.2', stop: true, setBy: 'ann@box', setAt })).toMatchObject({ version: 'v1.2', state: 'stopped' });
  });

  it('rejects a tag Docker would reject, as invalid input', () => {
    for (const bad of ['has space', '-leading', 'a:b', 'x'.repeat(129), '']) {
      expect(() => desiredValue({ version: bad, setBy: 'ann@box', setAt })).toThrow(CliError);
    }
    expect(() => desiredValue({ version: 'bad tag', setBy: 'a@b', setAt })).toThrow(/"bad tag" is not a valid Docker tag/);
  });
});

describe('set-version transaction', () => {
  const value = '{"version":"v2"}';
  const entries = (pairs: Array<[string, string]>) => new Map(pairs.map(([key, modRevision]) => [key, { modRevision }]));

  it('--host: puts each named host key once, guarded by the config revision', () => {
    const plan = planSetVersion({ keys, project: P, component: 'web', value, target: { hosts: ['h1', 'h2', 'h1'] }, configModRevision: '7', hostKeys: new Map() });
    expect(plan).toEqual({
      guards: [{ key: '/g/v1/projects/shop/config', modRevision: '7' }],
      puts: [
        { key: '/g/v1/projects/shop/hosts/h1/desired/web', value },
        { key: '/g/v1/projects/shop/hosts/h2/desired/web', value },
      ],
      deletes: [],
    });
  });

  it("--all: puts the fleet key and deletes every host's pin of that component only, guarding every host's pin", () => {
    const plan = planSetVersion({
      keys,
      project: P,
      component: 'web',
      value,
      target: { all: true },
      configModRevision: '7',
      hostKeys: entries([
        [keys.registration(P, 'h1'), '3'],
        [keys.hostDesired(P, 'h1', 'web'), '11'],
        [keys.hostDesired(P, 'h1', 'api'), '12'],
        [keys.status(P, 'h2', 'web'), '13'],
        [keys.hostDesired(P, 'h3', 'web'), '14'], // a pin of a host that is not registered: removed too
        [`${keys.hostsPrefix(P)}bad host/desired/web`, '15'], // stray key: not a host id, still a pin key
      ]),
    });
    expect(plan.puts).toEqual([{ key: '/g/v1/projects/shop/desired/web', value }]);
    expect(plan.deletes).toEqual([`${keys.hostsPrefix(P)}bad host/desired/web`, keys.hostDesired(P, 'h1', 'web'), keys.hostDesired(P, 'h3', 'web')]);
    expect(plan.guards).toEqual(
      expect.arrayContaining([
        { key: keys.config(P), modRevision: '7' },
        { key: keys.hostDesired(P, 'h1', 'web'), modRevision: '11' },
        { key: keys.hostDesired(P, 'h3', 'web'), modRevision: '14' },
        { key: `${keys.hostsPrefix(P)}bad host/desired/web`, modRevision: '15' },
        // h2 has no pin: the transaction fails if one appears meanwhile
        { key: keys.hostDesired(P, 'h2', 'web'), modRevision: '0' },
      ]),
    );
    expect(plan.guards).toHaveLength(5);
    expect(plan.deletes).not.toContain(keys.hostDesired(P, 'h1', 'api'));
  });

  it('--all with no hosts yet: only the fleet key', () => {
    const plan = planSetVersion({ keys, project: P, component: 'web', value, target: { all: true }, configModRevision: '1', hostKeys: new Map() });
    expect(plan).toEqual({ guards: [{ key: keys.config(P), modRevision: '1' }], puts: [{ key: keys.fleetDesired(P, 'web'), value }], deletes: [] });
  });
});
