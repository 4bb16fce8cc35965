import { agentStatusSchema, componentStatusSchema, hostRegistrationSchema, parseJson, type ComponentStatus, type KeyLayout } from '@gantry/spec';
import { ageSince, formatAge } from './age';

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

const invalidReason = (what: string, problems: { path: string; message: string }[]) =>
  `invalid ${what} value: ${problems.map((p) => (p.path === '(root)' ? p.message : `${p.path}: ${p.message}`)).join('; ')}`;

interface HostEntries {
  registration?: { key: string; value: string };
  agent?: { key: string; value: string };
  statuses: Map<string, { key: string; value: string }>;
}

/**
 * Builds the rows of one project from every key under `keys.hostsPrefix(project)`. Keys outside
 * the layout, of other projects, and host-level desired versions are ignored.
 */
export function buildStatusRows(keys: KeyLayout, project: string, entries: ReadonlyMap<string, string> | Iterable<[string, string]>): StatusRow[] {
  const hosts = new Map<string, HostEntries>();
  const hostEntry = (host: string) => {
    let entry = hosts.get(host);
    if (!entry) hosts.set(host, (entry = { statuses: new Map() }));
    return entry;
  };
  for (const [key, value] of entries) {
    const parsed = keys.parse(key);
    if (!parsed || parsed.project !== project) continue;
    if (parsed.kind === 'registration') hostEntry(parsed.host).registration = { key, value };
    else if (parsed.kind === 'agent') hostEntry(parsed.host).agent = { key, value };
    else if (parsed.kind === 'status') hostEntry(parsed.host).statuses.set(parsed.component, { key, value });
  }

  const rows: StatusRow[] = [];
  for (const host of [...hosts.keys()].sort()) {
    const entry = hosts.get(host)!;
    const registered = entry.registration !== undefined;
    const hostRows: StatusRow[] = [];

    if (entry.registration) {
      const reg = parseJson(hostRegistrationSchema, entry.registration.value, entry.registration.key);
      if (!reg.ok) {
        const key = entry.registration.key;
        hostRows.push({ id: `${host}//registration`, host, component: null, kind: 'invalid', registered, key, status: null, error: { key, reason: invalidReason('registration', reg.error.problems) } });
      }
    }

    for (const component of [...entry.statuses.keys()].sort()) {
      const { key, value } = entry.statuses.get(component)!;
      const parsed = parseJson(componentStatusSchema, value, key);
      if (parsed.ok) {
        const status = parsed.value;
        hostRows.push({ id: `${host}/${component}`, host, component, kind: 'component', registered, key, status, error: status.lastError, updatedAt: status.updatedAt });
      } else {
        hostRows.push({ id: `${host}/${component}`, host, component, kind: 'invalid', registered, key, status: null, error: { key, reason: invalidReason('status', parsed.error.problems) } });
      }
    }

    if (entry.agent) {
      const key = entry.agent.key;
      const agent = parseJson(agentStatusSchema, entry.agent.value, key);
      if (!agent.ok) {
        hostRows.push({ id: `${host}//agent`, host, component: null, kind: 'invalid', registered, key, status: null, error: { key, reason: invalidReason('agent status', agent.error.problems) } });
      } else {
        agent.value.problems.forEach((problem, i) => {
          hostRows.push({ id: `${host}//agent#${i}`, host, component: null, kind: 'agent', registered, key, status: null, error: problem, updatedAt: agent.value.updatedAt });
        });
      }
    }

    if (!hostRows.some((r) => r.component !== null || r.kind === 'agent')) {
      // Registered but silent so far, or gone with nothing but an empty agent record left: one row
      // says the host exists (before any invalid registration/agent row, which explains it).
      hostRows.unshift({ id: `${host}//none`, host, component: null, kind: 'no-status', registered, status: null });
    }
    rows.push(...hostRows);
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
  const phase = s?.phase ?? (row.kind === 'invalid' ? 'invalid' : row.kind === 'no-status' ? 'no status yet' : '-');
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
