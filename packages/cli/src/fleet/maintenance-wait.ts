import type { MaintenanceRecord } from '@gantry/spec';
import type { FleetClient } from './fleet-client';
import { maintenanceProgress, type MaintenanceHostRow } from './maintenance-progress';

/** The hosts' rows once every registered host does what `record` asks (undefined: off), or as they are when `waitS` ran out. */
export interface MaintenanceWait {
  rows: MaintenanceHostRow[];
  done: boolean;
}

/**
 * Watches (not polls) the project's hosts until each registered host's status for `component` shows
 * `record` applied where it selects the host, and no maintenance elsewhere; `waitS` 0 reads once.
 */
export async function awaitMaintenance(fleet: FleetClient, component: string, record: MaintenanceRecord | undefined, waitS: number, signal: AbortSignal): Promise<MaintenanceWait> {
  const { keys, project } = fleet;
  const mirror = fleet.mirror([keys.hostsPrefix(project)]);
  let latest: MaintenanceWait = { rows: [], done: false };
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const check = () => {
    if (!mirror.synced) return;
    const rows = maintenanceProgress(keys, project, component, mirror, record);
    latest = { rows, done: rows.every((r) => r.done) };
    if (latest.done || waitS <= 0) finish();
  };
  mirror.subscribe(check);
  const timer = waitS > 0 ? setTimeout(finish, waitS * 1000) : undefined;
  signal.addEventListener('abort', finish, { once: true });
  try {
    await fleet.call(`reading ${keys.hostsPrefix(project)}*`, () => mirror.start());
    check();
    if (waitS > 0) await finished;
    return latest;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', finish);
    await mirror.stop();
  }
}
