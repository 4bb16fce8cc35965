import type { MaintenanceRecord } from '@gantry/spec';
import { CliError } from '../../cli-error';
import { ExitCode } from '../../exit-codes';
import { describeMaintenanceRow } from '../../fleet/maintenance-progress';
import type { MaintenanceWait } from '../../fleet/maintenance-wait';
import type { Reporter } from '../../reporter';

export interface MaintenanceOutcome {
  project: string;
  component: string;
  key: string;
  revision: string;
  /** `off`: whether there was a key to delete. */
  changed?: boolean;
  record?: MaintenanceRecord;
  progress: MaintenanceWait;
  waitS: number;
  on: boolean;
}

/**
 * The result of `on` or `off`: the key written and each registered host's answer. Hosts that did not
 * apply it within `--wait` fail the verb (exit 1): the key is written, they follow it when they can.
 */
export function reportMaintenance(reporter: Reporter, o: MaintenanceOutcome): void {
  const { rows, done } = o.progress;
  const waited = o.waitS > 0;
  const value = { ok: !waited || done, project: o.project, component: o.component, key: o.key, revision: o.revision, on: o.on, ...(o.changed !== undefined && { changed: o.changed }), ...(o.record && { maintenance: o.record }), applied: done, hosts: rows };
  const selected = rows.filter((r) => r.selected).length;
  const head = o.on
    ? `maintenance on  ${o.component}: "${o.record!.message}" on ${selected} of ${rows.length} registered host(s) (${o.key})`
    : `maintenance off ${o.component}${o.changed === false ? ' (it was not on)' : ''} (${o.key})`;
  if (waited && !done) {
    const late = rows.filter((r) => !r.done).map((r) => r.host);
    throw new CliError(`${head}\nnot applied within ${o.waitS} s on ${late.join(', ')} (they follow the key when they can):\n${rows.map(describeMaintenanceRow).join('\n')}`, ExitCode.failed, value);
  }
  const warning = o.on && selected === 0 ? ['  no registered host is selected: nothing answers 503 now'] : [];
  reporter.result(value, [head, ...warning, ...rows.map(describeMaintenanceRow)]);
}
