import type { RolloutHistoryEntry } from '@gantry/spec';
import { historyRows } from './view-model';

/**
 * What `gantry rollout undo` rolls back to without `--to`: the version the hosts ran before the
 * last successful rollout (kubectl's `rollout undo`). Pure. Two undos in a row therefore go back
 * and forth, as the second undoes the first.
 */
export type UndoTarget = { ok: true; version: string; rollout: string; toVersion: string } | { ok: false; reason: string };

export function undoTarget(history: Iterable<RolloutHistoryEntry>): UndoTarget {
  const entries = new Map([...history].map((e) => [e.request.id, e]));
  const last = historyRows(entries.values()).find((row) => row.outcome === 'succeeded');
  if (!last) return { ok: false, reason: 'no rollout of it has succeeded (history holds none): name the version with --to VERSION' };
  const entry = entries.get(last.id)!;
  // The hosts it moved: those it found on another version (a host already on it changed nothing).
  const froms = [...new Set(entry.state.hosts.filter((h) => h.result === 'done' && h.fromVersion !== undefined && h.fromVersion !== entry.request.toVersion).map((h) => h.fromVersion!))].sort();
  if (froms.length === 0) return { ok: false, reason: `the last successful rollout ${last.id} (to ${entry.request.toVersion}) moved no host from another version: name the version with --to VERSION` };
  if (froms.length > 1) return { ok: false, reason: `the hosts ran different versions before the last successful rollout ${last.id} (${froms.join(', ')}): name the one to go back to with --to VERSION` };
  return { ok: true, version: froms[0]!, rollout: last.id, toVersion: entry.request.toVersion };
}
