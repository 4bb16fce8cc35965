import { isAtOrUnder, normalizeHostPath, pathsOverlap } from './host-path';

describe('host paths', () => {
  it.each([
    ['/var/run/../etc/', '/var/etc'],
    ['//etc//passwd', '/etc/passwd'],
    ['/../../etc', '/etc'],
    ['/a/./b/.', '/a/b'],
    ['/', '/'],
    ['relative/x', '/relative/x'],
  ])('normalizes %s to %s', (raw, normalized) => expect(normalizeHostPath(raw)).toBe(normalized));

  it('compares segment by segment', () => {
    expect(isAtOrUnder('/etc/passwd', '/etc')).toBe(true);
    expect(isAtOrUnder('/etc', '/etc')).toBe(true);
    expect(isAtOrUnder('/etcd', '/etc')).toBe(false);
    expect(isAtOrUnder('/anything', '/')).toBe(true);
    expect(pathsOverlap('/var', '/var/lib/docker')).toBe(true);
    expect(pathsOverlap('/var/lib/docker/x', '/var/lib/docker')).toBe(true);
    expect(pathsOverlap('/var/log', '/var/lib/docker')).toBe(false);
  });
});
