import type { PlannedWrite } from './planner';

/**
 * etcd refuses a transaction with more than 128 operations (`--max-txn-ops`), which a step over a
 * large fleet can need (a batch of hosts to move, every host key to clear at the end). Such a
 * step is written in chunks, each fenced, the rollout's own records last: if the coordinator dies
 * between chunks, the stored state has not moved yet, and the next leader plans the same step
 * again — rewriting a host key to the version it already has, which its agent takes as no change.
 * Old history entries deleted with a step (the history limit) go with the other keys, before the
 * records: however many there are, the records' chunk stays within the limit. The chunks before
 * the records are independent of each other: the coordinator sends several at once.
 */
export const MAX_OPS_PER_TXN = 100;

export function chunksOf(writes: PlannedWrite[], rolloutPrefix: string): PlannedWrite[][] {
  if (writes.length <= MAX_OPS_PER_TXN) return [writes];
  // Deleting old history entries (beyond the history limit) is housekeeping, in any order: not one of the records.
  const isRecord = (w: PlannedWrite) => w.key.startsWith(rolloutPrefix) && !(w.value === undefined && w.key.startsWith(`${rolloutPrefix}history/`));
  const records = writes.filter(isRecord);
  const others = writes.filter((w) => !isRecord(w));
  const chunks: PlannedWrite[][] = [];
  for (let i = 0; i < others.length; i += MAX_OPS_PER_TXN) chunks.push(others.slice(i, i + MAX_OPS_PER_TXN));
  if (records.length > 0) chunks.push(records);
  return chunks;
}
