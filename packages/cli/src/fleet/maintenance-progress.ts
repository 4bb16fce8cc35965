import { recordsOf, selectsHost, valueOf, type KeyLayout, type MaintenanceRecord, type MaintenanceStatus, type RecordSource } from '@gantry/spec';

/** One registered host as `gantry maintenance` sees it, for one component. */
export interface MaintenanceHostRow {
  host: string;
  /** The record's selector picks it (false: it is meant to serve). */
  selected: boolean;
  /** What its status says it applied; undefined: it serves. */
  applied?: MaintenanceStatus;
  /** Its status for the component is missing or invalid: what it does is unknown. */
  unknown?: string;
  /** It does what `record` asks: 503 where selected, serving where not. */
  done: boolean;
}

/**
 * Where `record` (the maintenance asked for; undefined: off) stands on each registered host, from
 * the records under the project's hosts prefix. Pure. A host applied it when its status carries
 * this record's `since` and `message` (an older maintenance still shown is not this one).
 */
export function maintenanceProgress(keys: KeyLayout, project: string, component: string, records: RecordSource, record: MaintenanceRecord | undefined): MaintenanceHostRow[] {
  const rows: MaintenanceHostRow[] = [];
  for (const { ref, value: registration } of recordsOf(records, 'registration', keys.hostsPrefix(project))) {
    const selected = record !== undefined && selectsHost(record.hosts, { hostId: ref.host, labels: registration.labels });
    const statusKey = keys.status(project, ref.host, component);
    const status = records.get(statusKey);
    const applied = valueOf(status, 'status')?.maintenance;
    const unknown = !status ? `no status at ${statusKey} yet` : status.problem !== undefined ? `${statusKey}: ${status.problem}` : undefined;
    const matches = applied !== undefined && record !== undefined && applied.since === record.since && applied.message === record.message && applied.holdSeconds === record.holdSeconds;
    const done = unknown === undefined && (selected ? matches : applied === undefined);
    rows.push({ host: ref.host, selected, ...(applied && { applied }), ...(unknown !== undefined && { unknown }), done });
  }
  return rows.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
}

/** "h1  503   http 80, tcp 5432 left serving" — one line per host. */
export function describeMaintenanceRow(row: MaintenanceHostRow): string {
  const state = row.unknown ? `unknown (${row.unknown})` : row.applied ? `answers 503 on http ${row.applied.httpPorts.join(', ') || '(none)'}${row.applied.tcpPorts.length ? `; tcp ${row.applied.tcpPorts.join(', ')} left serving` : ''}${row.applied.holdSeconds ? `; holds ${row.applied.holdSeconds} s first` : ''}` : 'serves';
  const mark = row.done ? '' : row.selected ? '  (waiting for it to apply)' : '  (waiting for it to serve again)';
  return `  ${row.host.padEnd(12)} ${state}${mark}`;
}
