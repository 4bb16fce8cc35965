import { posix } from 'node:path';

/**
 * A host path as the kernel would walk it, lexically: `..` and `.` resolved, repeated and
 * trailing slashes dropped (`/var/run/../etc/` → `/etc`). Symlinks are not followed here (that
 * needs the host's file system: the agent resolves them before judging); a path is always
 * absolute, so `..` never climbs above `/`.
 */
export function normalizeHostPath(path: string): string {
  const normalized = posix.normalize(posix.join('/', path));
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
}

/** Whether `path` is `ancestor` or below it, segment by segment (`/etcd` is not under `/etc`). Both normalized. */
export function isAtOrUnder(path: string, ancestor: string): boolean {
  if (ancestor === '/') return true;
  return path === ancestor || path.startsWith(`${ancestor}/`);
}

/**
 * Whether binding one path exposes the other: one is at or under the other. Binding `/var`
 * exposes `/var/lib/docker` as surely as binding `/var/lib/docker/overlay2` does.
 */
export function pathsOverlap(a: string, b: string): boolean {
  return isAtOrUnder(a, b) || isAtOrUnder(b, a);
}
