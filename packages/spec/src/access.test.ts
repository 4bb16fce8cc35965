import { coordinatorProbeKeys, defaultUserName, roleGrants, roleName } from './access';
import { KeyLayout } from './keys';

const keys = new KeyLayout();
const covers = (g: { key: string; prefix: boolean }, key: string) => (g.prefix ? key.startsWith(g.key) : key === g.key);
const mayWrite = (kind: 'host' | 'coordinator' | 'operator', key: string, host?: string) => roleGrants(keys, 'p', kind, host).some((g) => g.permission !== 'Read' && covers(g, key));
const mayRead = (kind: 'host' | 'coordinator' | 'operator', key: string, host?: string) => roleGrants(keys, 'p', kind, host).some((g) => g.permission !== 'Write' && covers(g, key));

describe('roleGrants', () => {
  it("lets a host write its own registration, agent record and statuses, and nothing of another host's", () => {
    for (const key of [keys.registration('p', 'h1'), keys.agent('p', 'h1'), keys.status('p', 'h1', 'web')]) expect(mayWrite('host', key, 'h1')).toBe(true);
    for (const key of [keys.registration('p', 'h2'), keys.status('p', 'h2', 'web'), keys.hostDesired('p', 'h1', 'web'), keys.config('p'), keys.fleetDesired('p', 'web'), keys.coordinator('p'), keys.rolloutState('p', 'web')]) {
      expect(mayWrite('host', key, 'h1')).toBe(false);
    }
  });

  it('lets a host read what it follows, and not the other hosts', () => {
    for (const key of [keys.config('p'), keys.fleetDesired('p', 'web'), keys.hostDesired('p', 'h1', 'web')]) expect(mayRead('host', key, 'h1')).toBe(true);
    expect(mayRead('host', keys.status('p', 'h2', 'web'), 'h1')).toBe(false);
  });

  it('lets hosts read the maintenance keys and only operators write them', () => {
    const key = keys.maintenance('p', 'web');
    expect(mayRead('host', key, 'h1')).toBe(true);
    expect(mayWrite('host', key, 'h1')).toBe(false);
    expect(mayRead('coordinator', key)).toBe(true);
    expect(mayWrite('coordinator', key)).toBe(false);
    expect(mayWrite('operator', key)).toBe(true);
  });

  it("gives the coordinator every write of its probe, and the operator none of the coordinator key or a project's other keys", () => {
    const probe = coordinatorProbeKeys(keys, 'p');
    for (const key of [...probe.puts, ...probe.deletePrefixes]) expect(mayWrite('coordinator', key)).toBe(true);
    expect(mayWrite('coordinator', keys.config('p'))).toBe(false);
    expect(mayWrite('operator', keys.coordinator('p'))).toBe(false);
    expect(mayWrite('operator', keys.config('p'))).toBe(true);
    // Nothing outside the project, for anyone.
    for (const kind of ['coordinator', 'operator'] as const) expect(mayRead(kind, keys.config('q'))).toBe(false);
  });

  it("keeps the probe's writes apart: etcd refuses a transaction whose operations overlap", () => {
    const { puts, deletePrefixes } = coordinatorProbeKeys(keys, 'p');
    for (const prefix of deletePrefixes) for (const key of puts) expect(key.startsWith(prefix)).toBe(false);
  });

  it('names roles and users under gantry/<project>/, which no project or host name can fake ("/" is in none)', () => {
    expect(roleName('p', 'host', 'h1')).toBe('gantry/p/host/h1');
    expect(roleName('p', 'operator')).toBe('gantry/p/operator');
    expect(defaultUserName('p', 'coordinator', 'ctl')).toBe('gantry/p/coordinator/ctl');
    expect(() => roleGrants(keys, 'p', 'host')).toThrow('host id');
  });
});
