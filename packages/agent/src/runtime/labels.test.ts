import { containerName, gantryLabels, labelFilter, Labels, matchesSelector, newInstanceId, sanitizeNamePart } from './labels';

const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

describe('labels', () => {
  it('uses the io.gantry. prefix', () => {
    for (const key of Object.values(Labels)) expect(key.startsWith('io.gantry.')).toBe(true);
  });

  it('builds the label set, config hash only when given', () => {
    expect(gantryLabels({ project: 'p', component: 'c', hostId: 'h', version: 'v1' })).toEqual({
      'io.gantry.managed': 'true',
      'io.gantry.project': 'p',
      'io.gantry.component': 'c',
      'io.gantry.host': 'h',
      'io.gantry.version': 'v1',
    });
    expect(gantryLabels({ project: 'p', component: 'c', hostId: 'h', version: 'v1', configHash: 'abc' })['io.gantry.config-hash']).toBe('abc');
  });

  it('builds a label filter for one host, with or without a component', () => {
    expect(labelFilter({ project: 'p', hostId: 'h1' })).toEqual({ label: ['io.gantry.managed=true', 'io.gantry.project=p', 'io.gantry.host=h1'] });
    expect(labelFilter({ project: 'p', hostId: 'h1', component: 'web' }).label).toContain('io.gantry.component=web');
  });

  it('matches labels against a selector', () => {
    const labels = gantryLabels({ project: 'p', component: 'web', hostId: 'h1', version: 'v1' });
    expect(matchesSelector(labels, { project: 'p', hostId: 'h1' })).toBe(true);
    expect(matchesSelector(labels, { project: 'p', hostId: 'h1', component: 'web' })).toBe(true);
    expect(matchesSelector(labels, { project: 'p', hostId: 'h2' })).toBe(false);
    expect(matchesSelector(labels, { project: 'q', hostId: 'h1' })).toBe(false);
    expect(matchesSelector(labels, { project: 'p', hostId: 'h1', component: 'api' })).toBe(false);
    expect(matchesSelector({ ...labels, 'io.gantry.managed': 'false' }, { project: 'p', hostId: 'h1' })).toBe(false);
    expect(matchesSelector(undefined, { project: 'p', hostId: 'h1' })).toBe(false);
  });

  it('names containers gantry.<host>.<project>.<component>.<version>.<6 hex>', () => {
    const name = containerName({ hostId: 'h1', project: 'shop', component: 'web', version: '1.2.3', instanceId: 'a1b2c3d4e5f6' });
    expect(name).toBe('gantry.h1.shop.web.1.2.3.a1b2c3');
    const random = containerName({ hostId: 'h1', project: 'shop', component: 'web', version: 'v1' });
    expect(random).toMatch(/^gantry\.h1\.shop\.web\.v1\.[a-f0-9]{6}$/);
    expect(random).not.toBe(containerName({ hostId: 'h1', project: 'shop', component: 'web', version: 'v1' }));
  });

  it('keeps names valid for Docker whatever the parts hold', () => {
    const name = containerName({ hostId: 'host/with spaces:and@odd', project: '-proj', component: 'web', version: `sha256:${'f'.repeat(64)}` });
    expect(name).toMatch(DOCKER_NAME);
    expect(name).toMatch(/^gantry\.host-with-spaces-and-odd\.proj\.web\.sha256-ffffffffffff\.[a-f0-9]{6}$/);
    expect(sanitizeNamePart('')).toBe('x');
    expect(sanitizeNamePart('a'.repeat(100))).toHaveLength(64);
  });

  it('rejects an instance id that is not hex', () => {
    expect(() => containerName({ hostId: 'h', project: 'p', component: 'c', version: 'v', instanceId: 'zzzzzz' })).toThrow(/6 lowercase hex/);
  });

  it('makes 12-hex instance ids', () => {
    expect(newInstanceId()).toMatch(/^[a-f0-9]{12}$/);
  });
});
