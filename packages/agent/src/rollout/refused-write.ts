import type { KeyProblem } from '../agent/desired-state';
import type { PlannedWrite } from './planner';

/**
 * What the operator reads of a write etcd refused: the largest value of it named by key (the one
 * that made a request too large, when that is the cause), and etcd's words.
 */
export function refusedWrite(what: string, chunk: readonly PlannedWrite[], err: Error): KeyProblem {
  const bytes = (w: PlannedWrite) => Buffer.byteLength(w.key) + (w.value === undefined ? 0 : Buffer.byteLength(w.value));
  const largest = chunk.reduce((a, b) => (bytes(b) > bytes(a) ? b : a));
  const total = chunk.reduce((n, w) => n + bytes(w), 0);
  const tooLarge = /too large/i.test(err.message);
  const reason = tooLarge
    ? `etcd refused the coordinator's write for ${what} as too large (${chunk.length} key(s), ${total} bytes, this key ${bytes(largest)}; etcd's --max-request-bytes, 1.5 MiB by default): ${err.message}; retrying`
    : `etcd refused the coordinator's write for ${what} (${chunk.length} key(s)): ${err.message}; retrying`;
  return { key: largest.key, reason };
}
