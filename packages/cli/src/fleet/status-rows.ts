import { valueOf, type ComponentStatus, type FleetRecord, type KeyLayout, type RecordSource } from '@gantry/spec';
import { ageSince, formatAge } from './age';
import { prepullText } from './prepull-cell';
import { teardownText } from './teardown-cell';

/**
 * The pure half of `gantry status`: turns the raw key → value map of a project's hosts prefix
 * into table rows. Nothing here trusts a value: anything that fails its schema becomes an
 * `invalid` row naming its key, so garbage written by other tooling shows up instead of crashing.
 */

/** A problem shown in LAST ERROR: what is wrong and, when known, the etcd key at fault. */
export interface RowError {
  key?: string;
  reason: string;
  at?: string;
}

/**
 * - `component`: a valid status of one component on one host.
 * - `invalid`: a status, registration or agent key whose value fails its schema (or is not JSON).
 * - `agent`: one problem the host's agent reports (e.g. an invalid config in etcd).
 * - `no-status`: a host that has written no status yet.
 */
export type StatusRowKind = 'component' | 'invalid' | 'agent' | 'no-status';

export interface StatusRow {
  /** Stable identity of the row across redraws (host/component/kind). */
  id: string;
  host: string;
  /** The component, or null for a row about the host or its agent. */
  component: string | null;
  kind: StatusRowKind;
  /** False for a host with keys left in etcd but no registration (its agent is gone): shown "(gone)". */
  registered: boolean;
  /** The key the row was read from. */
  key?: string;
  /** The validated status (kind `component` only). */
  status: ComponentStatus | null;
  error?: RowError;
  /** When the row's source last changed, as its writer says. */
  updatedAt?: string;
}

export const STATUS_HEADER = ['HOST', 'COMPONENT', 'VERSION', 'PHASE', 'HEALTH', 'DRAINING', 'LAST ERROR', 'AGE'];

interface HostEntries {
  registration?: FleetRecord;
  agent?: FleetRecord;
  statuses: Map<string, FleetRecord>;
  /** Keys under the host that name nothing valid (an unknown kind, an invalid component name). */
  ignored: FleetRecord[];
}

/** The row of a key whose value (or the key itself) is invalid: the error names the key. */
const invalidRow = (id: string, host: string, component: string | null, registered: boolean, record: FleetRecord): StatusRow => ({
  id,
  host,
  component,
  kind: 'invalid',
  registered,
  key: record.key,
  status: null,
  error: { key: record.key, reason: record.problem ?? 'invalid' },
});

/**
 * Builds the rows of one project from the records under `keys.hostsPrefix(project)`. Keys outside
 * the layout, of other projects, host-level desired versions and prepull requests are ignored (the
 * agent reports an invalid one in its record); keys under a host
 * that name nothing valid are rows of their own, and so is a host segment that is not a valid id.
 */
export function buildStatusRows(keys: KeyLayout, project: string, source: RecordSource): StatusRow[] {
  const hosts = new Map<string, HostEntries>();
  const hostEntry = (host: string) => {
    let entry = hosts.get(host);
    if (!entry) hosts.set(host, (entry = { statuses: new Map(), ignored: [] }));
    return entry;
  };
  const strays: FleetRecord[] = [];
  for (const [, record] of source.entries(keys.hostsPrefix(project))) {
    const ref = record.ref;
    if (!ref) {
      const host = record.problem !== undefined ? record.host : undefined;
      if (host !== undefined) hostEntry(host).ignored.push(record);
      else strays.push(record);
    } else if (ref.kind === 'registration') hostEntry(ref.host).registration = record;
    else if (ref.kind === 'agent') hostEntry(ref.host).agent = record;
    else if (ref.kind === 'status') hostEntry(ref.host).statuses.set(ref.component, record);
  }

  const rows: StatusRow[] = [];
  for (const host of [...hosts.keys()].sort()) {
    const entry = hosts.get(host)!;
    const registered = entry.registration !== undefined;
    const hostRows: StatusRow[] = [];

    if (entry.registration?.problem !== undefined) hostRows.push(invalidRow(`${host}//registration`, host, null, registered, entry.registration));

    for (const component of [...entry.statuses.keys()].sort()) {
      const record = entry.statuses.get(component)!;
      const status = valueOf(record, 'status');
      if (status) {
        hostRows.push({ id: `${host}/${component}`, host, component, kind: 'component', registered, key: record.key, status, error: status.lastError, updatedAt: status.updatedAt });
      } else hostRows.push(invalidRow(`${host}/${component}`, host, component, registered, record));
    }

    const agent = valueOf(entry.agent, 'agent');
    if (entry.agent?.problem !== undefined) hostRows.push(invalidRow(`${host}//agent`, host, null, registered, entry.agent));
    else if (agent) {
      agent.problems.forEach((problem, i) => {
        hostRows.push({ id: `${host}//agent#${i}`, host, component: null, kind: 'agent', registered, key: entry.agent!.key, status: null, error: problem, updatedAt: agent.updatedAt });
      });
    }
    for (const record of entry.ignored) hostRows.push(invalidRow(`${host}//key:${record.key}`, host, null, registered, record));

    if (!hostRows.some((r) => r.component !== null || r.kind === 'agent')) {
      // Registered but silent so far, or gone with nothing but an empty agent record left: one row
      // says the host exists (before any invalid registration/agent row, which explains it).
      hostRows.unshift({ id: `${host}//none`, host, component: null, kind: 'no-status', registered, status: null });
    }
    rows.push(...hostRows);
  }
  // Keys whose host segment is not a valid host id belong to no host: shown last, under the raw segment.
  for (const record of strays) {
    rows.push(invalidRow(`//key:${record.key}`, keys.hostSegment(record.key) || '(none)', null, false, record));
  }
  return rows;
}

/** The VERSION cell: the serving version, with `→ target` while an update is under way. */
export function versionCell(status: ComponentStatus | null): string {
  if (!status) return '-';
  const current = status.version ?? '-';
  return status.targetVersion && status.targetVersion !== status.version ? `${current} → ${status.targetVersion}` : current;
}

export function errorCell(error: RowError | undefined): string {
  if (!error) return '-';
  return error.key ? `${error.reason} (key ${error.key})` : error.reason;
}

/** The cells of one row, in {@link STATUS_HEADER} order. */
export function statusCells(row: StatusRow, now: Date): string[] {
  const s = row.status;
  const component = row.component ?? (row.kind === 'agent' ? '(agent)' : '-');
  const basePhase = s?.phase ?? (row.kind === 'invalid' ? 'invalid' : row.kind === 'no-status' ? 'no status yet' : '-');
  // Maintenance is beside the phase, not one: the containers keep their phase while the proxy answers 503.
  const inMaintenance = s?.maintenance ? `${basePhase}, maintenance (503${s.maintenance.holdSeconds ? `, hold ${s.maintenance.holdSeconds}s` : ''})` : basePhase;
  // A rollout's pre-pull too: the host pulls in the background, whatever its phase.
  const withPrepull = s?.prepull ? `${inMaintenance}, ${prepullText(s.prepull)}` : inMaintenance;
  // And an old container's stop, after the update was done.
  const phase = s?.teardown ? `${withPrepull}, ${teardownText(s.teardown, now)}` : withPrepull;
  const health = s?.health ? `${s.health.state}${s.health.failing.length ? ` (failing: ${s.health.failing.join(', ')})` : ''}` : '-';
  let draining = '-';
  if (s?.drain) {
    const left = Date.parse(s.drain.deadline) - now.getTime();
    const conns = `${s.drain.connectionsLeft} conn${s.drain.connectionsLeft === 1 ? '' : 's'}`;
    draining = left > 0 ? `${conns}, ${formatAge(left)} left` : `${conns}, deadline passed`;
  }
  return [row.registered ? row.host : `${row.host} (gone)`, component, versionCell(s), phase, health, draining, errorCell(row.error), ageSince(row.updatedAt, now)];
}

/** The rows that differ between two builds (new or changed), and those that disappeared. */
export function diffRows(before: readonly StatusRow[], after: readonly StatusRow[]): { changed: StatusRow[]; removed: StatusRow[] } {
  const old = new Map(before.map((r) => [r.id, JSON.stringify(r)]));
  const ids = new Set(after.map((r) => r.id));
  return {
    changed: after.filter((r) => old.get(r.id) !== JSON.stringify(r)),
    removed: before.filter((r) => !ids.has(r.id)),
  };
}
