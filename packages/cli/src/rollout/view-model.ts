import {
  invalidRecords,
  recordsOf,
  valueOf,
  type ComponentStatus,
  type KeyLayout,
  type RecordSource,
  type RolloutControl,
  type RolloutHistoryEntry,
  type RolloutRequest,
  type RolloutState,
} from '@gantry/spec';
import { formatAge } from '../fleet/age';
import { prepullText } from '../fleet/prepull-cell';
import { teardownText } from '../fleet/teardown-cell';

/**
 * The pure half of the rollout live view and `gantry rollout status`: from the keys under a
 * component's rollout prefix and the project's hosts prefix, what to show. Invalid values become
 * problems naming their key, never a crash.
 */

export interface RolloutKeys {
  keys: KeyLayout;
  project: string;
  component: string;
}

/** What the rollout prefix holds, validated. */
export interface RolloutRecords {
  request?: RolloutRequest;
  requestModRevision?: string;
  control?: RolloutControl;
  state?: RolloutState;
  /** Valid history entries, by rollout id. */
  history: Map<string, RolloutHistoryEntry>;
  /** Invalid values, each naming its key. */
  problems: string[];
}

/**
 * What the component's rollout keys hold. Problems list the invalid values and keys under the
 * component's rollout prefix, and any key under the project's rollouts prefix that names no valid
 * component at all (it belongs to no rollout, so every rollout view shows it).
 */
export function readRecords(where: RolloutKeys, source: RecordSource): RolloutRecords {
  const { keys, project, component } = where;
  const records: RolloutRecords = {
    request: valueOf(source.get(keys.rolloutRequest(project, component)), 'rollout-request'),
    control: valueOf(source.get(keys.rolloutControl(project, component)), 'rollout-control'),
    state: valueOf(source.get(keys.rolloutState(project, component)), 'rollout-state'),
    history: new Map(),
    problems: [],
  };
  for (const { value } of recordsOf(source, 'rollout-history', keys.rolloutHistory(project, component))) records.history.set(value.request.id, value);
  for (const bad of invalidRecords(source, keys.rolloutsPrefix(project))) {
    const ours = bad.ref !== undefined && 'component' in bad.ref && bad.ref.component === component;
    if (ours || bad.ref === undefined) records.problems.push(`${bad.problem} (key ${bad.key})`);
  }
  return records;
}

/** The component's statuses by host (invalid ones left out: `gantry status` shows them). */
export function statusesByHost(where: RolloutKeys, source: RecordSource): Map<string, ComponentStatus> {
  const out = new Map<string, ComponentStatus>();
  for (const { ref, value } of recordsOf(source, 'status', where.keys.hostsPrefix(where.project))) if (ref.component === where.component) out.set(ref.host, value);
  return out;
}

export interface HostRowView {
  host: string;
  batch: number;
  result: string;
  phase: string;
  /** from → to */
  version: string;
  /** The version the host serves now, per its status. */
  serving?: string;
  pull?: { layersDone: number; layersTotal: number; bytesDone: number; bytesTotal: number };
  ready: string;
  drain?: { connectionsLeft: number; deadline: string; secondsLeft: number };
  /** The host's proxy answers 503 for the component (`gantry maintenance on`): the rollout goes on behind it. */
  maintenance?: boolean;
  /** The host's answer to this rollout's pre-pull (the preflight). */
  prepull?: 'pulling' | 'pulled' | 'failed';
  error?: string;
}

export interface RolloutView {
  id: string;
  component: string;
  fromVersion: string;
  toVersion: string;
  /** The coordinator's state, or `pending` before it wrote any. */
  state: string;
  pausedBy?: string;
  message?: string;
  batch: number;
  batches: number;
  hostsDone: number;
  /** Hosts skipped (lost their registration under `onHostLost: skip`). */
  hostsSkipped: number;
  hostsTotal: number;
  elapsedSeconds: number;
  control?: RolloutControl;
  rows: HostRowView[];
  problems: string[];
}

const secondsBetween = (from: string | undefined, to: number) => {
  const at = from ? Date.parse(from) : NaN;
  return Number.isNaN(at) ? 0 : Math.max(0, Math.floor((to - at) / 1000));
};

function readyCell(status: ComponentStatus | undefined, readySince: string | undefined, now: Date): string {
  const parts: string[] = [];
  if (status?.phase === 'ready-checking') {
    const last = status.health?.lastResults.at(-1);
    parts.push(last ? `checking (${last.check}: ${last.ok ? 'ok' : last.detail || 'failing'})` : 'checking');
  } else if (status?.health) {
    parts.push(status.health.failing.length ? `${status.health.state} (failing: ${status.health.failing.join(', ')})` : status.health.state);
  }
  if (readySince) parts.push(`ready ${formatAge(now.getTime() - Date.parse(readySince))}`);
  return parts.join(', ') || '-';
}

/** The view of one rollout: the request, the coordinator's state (if any yet) and the hosts' statuses. */
export function buildRolloutView(request: RolloutRequest, records: Pick<RolloutRecords, 'state' | 'control' | 'problems'>, statuses: ReadonlyMap<string, ComponentStatus>, now: Date): RolloutView {
  // A state or control of another rollout (stale, not yet cleared) is not this one's.
  const state = records.state?.rollout === request.id ? records.state : undefined;
  const control = records.control?.rollout === request.id ? records.control : undefined;
  const hosts = state?.hosts ?? [];
  const froms = [...new Set(hosts.map((h) => h.fromVersion).filter((v): v is string => Boolean(v)))];
  const rows: HostRowView[] = hosts.map((h) => {
    const status = statuses.get(h.id);
    // The host's answer to this rollout's pre-pull (one about another rollout is not this one's).
    const prepull = status?.prepull?.rollout === request.id ? status.prepull : undefined;
    const row: HostRowView = {
      host: h.id,
      batch: h.batch,
      result: h.result,
      phase: [status?.phase ?? '-', ...(status?.maintenance ? ['maintenance (503)'] : []), ...(prepull ? [prepullText(prepull)] : []), ...(status?.teardown ? [teardownText(status.teardown, now)] : [])].join(', '),
      version: `${h.fromVersion ?? '-'} → ${request.toVersion}`,
      ready: readyCell(status, h.readySince, now),
    };
    if (status?.version) row.serving = status.version;
    if (status?.maintenance) row.maintenance = true;
    if (status?.phase === 'pulling' && status.pull) row.pull = { ...status.pull };
    else if (prepull?.state === 'pulling' && prepull.progress) row.pull = { ...prepull.progress };
    if (prepull) row.prepull = prepull.state;
    if (status?.drain) {
      row.drain = { connectionsLeft: status.drain.connectionsLeft, deadline: status.drain.deadline, secondsLeft: Math.max(0, Math.ceil((Date.parse(status.drain.deadline) - now.getTime()) / 1000)) };
    }
    const error = h.error ?? status?.lastError?.reason;
    if (error) row.error = error;
    return row;
  });
  const end = state?.finishedAt ? Date.parse(state.finishedAt) : now.getTime();
  const view: RolloutView = {
    id: request.id,
    component: request.component,
    fromVersion: froms.length ? froms.join(',') : '-',
    toVersion: request.toVersion,
    state: state?.state ?? 'pending',
    batch: state ? Math.min(state.currentBatch + 1, state.batches) : 0,
    batches: state?.batches ?? 0,
    hostsDone: hosts.filter((h) => h.result === 'done').length,
    hostsSkipped: hosts.filter((h) => h.result === 'skipped').length,
    hostsTotal: hosts.length,
    elapsedSeconds: secondsBetween(state?.startedAt ?? request.createdAt, Number.isNaN(end) ? now.getTime() : end),
    rows,
    problems: [...records.problems],
  };
  if (state?.pausedBy) view.pausedBy = state.pausedBy;
  if (state?.message) view.message = state.message;
  if (control) view.control = control;
  return view;
}

export const HOST_HEADER = ['HOST', 'BATCH', 'RESULT', 'PHASE', 'VERSION', 'PROGRESS', 'READY', 'DRAINING', 'ERROR'];

const MB = 1_000_000;

/** `[#####.....] 3/5 layers 45/98 MB` */
export function pullBar(pull: { layersDone: number; layersTotal: number; bytesDone: number; bytesTotal: number }, width = 10): string {
  const fraction = pull.bytesTotal > 0 ? pull.bytesDone / pull.bytesTotal : pull.layersTotal > 0 ? pull.layersDone / pull.layersTotal : 0;
  const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pull.layersDone}/${pull.layersTotal} layers ${Math.round(pull.bytesDone / MB)}/${Math.round(pull.bytesTotal / MB)} MB`;
}

export function hostCells(row: HostRowView): string[] {
  const drain = row.drain ? `${row.drain.connectionsLeft} conn${row.drain.connectionsLeft === 1 ? '' : 's'}, ${row.drain.secondsLeft}s left` : '-';
  return [row.host, String(row.batch + 1), row.result, row.phase, row.version, row.pull ? pullBar(row.pull) : '-', row.ready, drain, row.error ?? '-'];
}

/** `rollout r-… v1 → v2: running, batch 2/3, hosts done 3/5, elapsed 42s` */
export function summaryLine(view: RolloutView): string {
  const state = view.pausedBy ? `${view.state} (${view.pausedBy === 'canary' ? 'after the canary hosts' : 'by the operator'})` : view.state;
  const control = view.control ? `, last instruction ${view.control.action} by ${view.control.by}` : '';
  const message = view.message ? ` — ${view.message}` : '';
  return `rollout ${view.id} ${view.fromVersion} → ${view.toVersion}: ${state}, batch ${view.batch}/${view.batches}, hosts done ${view.hostsDone}/${view.hostsTotal}${view.hostsSkipped ? ` (${view.hostsSkipped} skipped)` : ''}, elapsed ${view.elapsedSeconds}s${control}${message}`;
}

/** What a change is judged by: the view without the fields that only move with the clock. */
export function changeKey(view: RolloutView): string {
  return JSON.stringify({ ...view, elapsedSeconds: undefined, rows: view.rows.map((r) => ({ ...r, ready: r.ready.replace(/ready \d+\w/, 'ready'), phase: r.phase.replace(/stopping \d+s\//, 'stopping '), drain: r.drain && { ...r.drain, secondsLeft: undefined } })) });
}

/** The outcome of a finished rollout: its history entry, once the state key no longer holds it. */
export function finishedEntry(id: string, records: RolloutRecords): RolloutHistoryEntry | undefined {
  const entry = records.history.get(id);
  if (!entry) return undefined;
  return records.state?.rollout === id ? undefined : entry;
}

/** A history entry as a row of `gantry rollout history`. */
export interface HistoryRow {
  id: string;
  version: string;
  fromVersion: string;
  by: string;
  startedAt: string;
  finishedAt: string;
  outcome: string;
  hosts: number;
  hostsDone: number;
  hostsFailed: number;
  hostsSkipped: number;
}

export const HISTORY_HEADER = ['ID', 'VERSION', 'BY', 'STARTED', 'FINISHED', 'OUTCOME', 'HOSTS'];

export function historyRows(history: Iterable<RolloutHistoryEntry>): HistoryRow[] {
  const rows = [...history].map((e): HistoryRow => {
    const froms = [...new Set(e.state.hosts.map((h) => h.fromVersion).filter((v): v is string => Boolean(v)))];
    return {
      id: e.request.id,
      version: e.request.toVersion,
      fromVersion: froms.join(',') || '-',
      by: e.request.createdBy,
      startedAt: e.state.startedAt ?? e.request.createdAt,
      finishedAt: e.state.finishedAt ?? e.state.updatedAt,
      outcome: e.state.state,
      hosts: e.state.hosts.length,
      hostsDone: e.state.hosts.filter((h) => h.result === 'done').length,
      hostsFailed: e.state.hosts.filter((h) => h.result === 'failed').length,
      hostsSkipped: e.state.hosts.filter((h) => h.result === 'skipped').length,
    };
  });
  // Newest first: by finish time, then by id (which starts with the creation time).
  const time = (iso: string) => Date.parse(iso) || 0;
  return rows.sort((a, b) => time(b.finishedAt) - time(a.finishedAt) || b.id.localeCompare(a.id));
}

export function historyCells(row: HistoryRow): string[] {
  const failed = row.hostsFailed ? `, ${row.hostsFailed} failed` : '';
  const skipped = row.hostsSkipped ? `, ${row.hostsSkipped} skipped` : '';
  return [row.id, `${row.fromVersion} → ${row.version}`, row.by, row.startedAt, row.finishedAt, row.outcome, `${row.hosts} (${row.hostsDone} done${failed}${skipped})`];
}

/**
 * Why a control would be ignored by the coordinator in the rollout's current state (the CLI then
 * refuses it, exit 2, rather than write an instruction nobody will follow); undefined: it applies.
 * `state` is the coordinator's state, `pending` before it wrote one; `control` the one stored.
 */
export function controlRefusal(action: RolloutControl['action'], id: string, state: Pick<RolloutState, 'state' | 'pausedBy'> | undefined, control?: RolloutControl): string | undefined {
  const now = state?.state ?? 'pending';
  const final = ['succeeded', 'failed', 'rolled-back', 'aborted', 'cancelled'];
  if (final.includes(now)) return `rollout ${id} is already over (${now})`;
  const mine = control?.rollout === id ? control : undefined;
  // An instruction not acted on yet would be overwritten: an abort always ends the rollout, a rollback starts rolling back.
  if (action !== 'abort' && mine?.action === 'abort') return `an abort of rollout ${id} by ${mine.by} is pending; the coordinator ends the rollout with it`;
  if (action !== 'abort' && mine?.action === 'rollback' && now !== 'rolling-back') return `a rollback of rollout ${id} by ${mine.by} is pending; the coordinator starts it`;
  switch (action) {
    case 'abort':
      return undefined;
    case 'pause':
      if (now === 'paused') return `rollout ${id} is already paused (${state?.pausedBy === 'canary' ? 'after its canary hosts' : 'by the operator'})`;
      if (now === 'rolling-back') return `rollout ${id} is rolling back: there is nothing to pause (abort stops it)`;
      return undefined;
    case 'resume':
      return now === 'paused' ? undefined : `rollout ${id} is ${now}, not paused: there is nothing to resume`;
    case 'rollback':
      return now === 'rolling-back' ? `rollout ${id} is already rolling back` : undefined;
    default:
      return action satisfies never;
  }
}

/** Where each host of a finished rollout was left, grouped: `hosts h1, h2 on v2; h3 updating to v2; h4 untouched`. */
export function hostsLeft(entry: RolloutHistoryEntry): { groups: Record<string, string[]>; text: string } {
  const to = entry.request.toVersion;
  const groups: Record<string, string[]> = {};
  for (const h of entry.state.hosts) {
    const where: Record<string, string> = {
      pending: 'untouched',
      skipped: `skipped${h.error ? ` (${h.error})` : ''}`,
      updating: `updating to ${to}`,
      ready: `on ${to} (not yet through min-ready)`,
      done: `on ${to}`,
      failed: `failed${h.error ? ` (${h.error})` : ''}`,
      'rolling-back': `rolling back to ${h.fromVersion ?? 'its previous version'}`,
      'rolled-back': `back on ${h.fromVersion ?? 'its previous version'}`,
    };
    (groups[where[h.result]] ??= []).push(h.id);
  }
  const parts = Object.entries(groups).map(([where, ids]) => `${ids.length === 1 ? 'host' : 'hosts'} ${ids.join(', ')} ${where}`);
  return { groups, text: parts.join('; ') || 'no host was selected' };
}
