import { realpathSync } from 'node:fs';
import { posix } from 'node:path';

/**
 * The path `path` really names on this host, walked as the kernel walks it: segment by segment,
 * each existing prefix through realpath (so a symlink is followed, and a `..` after it climbs from
 * where it leads: `/var/run/../etc` is `/etc` when /var/run → /run), and the part that does not
 * exist yet (Docker creates a missing bind source) appended as written. A segment that cannot be
 * inspected (EACCES, a loop) ends the walk there too: the rest is judged as written.
 */
export function resolveHostPath(path: string, realpath: (p: string) => string = realpathSync): string {
  let current = '/';
  const segments = path.split('/');
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      current = posix.dirname(current);
      continue;
    }
    const next = posix.join(current, segment);
    try {
      current = realpath(next);
    } catch {
      return posix.normalize(posix.join(next, ...segments.slice(i + 1)));
    }
  }
  return current;
}
