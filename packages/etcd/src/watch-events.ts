import type { IEvent } from 'etcd3';

/** One change under a watched prefix. `revision` is the etcd revision that made it (shared by all keys of one transaction). */
export type PrefixChange = { type: 'put'; key: string; value: string; revision: number } | { type: 'delete'; key: string; revision: number };

/**
 * Turns a watch response's events into changes, in etcd's order. Events at or below `seenRevision`
 * (already covered by the snapshot the watch started from) are dropped; several events of one
 * revision (one transaction) are all kept. Keys arrive already stripped of a client namespace.
 */
export function toChanges(events: readonly IEvent[], seenRevision: number): PrefixChange[] {
  const changes: PrefixChange[] = [];
  for (const ev of events) {
    const revision = Number(ev.kv.mod_revision);
    if (revision <= seenRevision) continue;
    const key = ev.kv.key.toString();
    if (ev.type === 'Put') changes.push({ type: 'put', key, value: ev.kv.value.toString(), revision });
    else if (ev.type === 'Delete') changes.push({ type: 'delete', key, revision });
  }
  return changes;
}
