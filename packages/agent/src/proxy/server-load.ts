import type { StatRow } from './runtime-parse';

/** `show stat` rows of one frontend/backend pair, per HAProxy worker. */
export interface WorkerStats {
  /** Server rows, per current worker. */
  current: StatRow[][];
  /** Per old worker (left from a reload): backend and server rows, and the frontend row. */
  old: Array<{ backend: StatRow[]; frontend: StatRow[] }>;
}

/** How much traffic a server still has, or may still get, over all HAProxy workers. */
export interface ServerLoad {
  server: string;
  /** Sessions plus queued requests (scur + qcur), summed over the current and old workers. */
  sessions: number;
  /**
   * Idle client connections of old workers that still list the server as usable (not drain or
   * maint): with `idle-close-on-response` each may send one more request, routed by the old
   * worker's own server list, which the Runtime API can no longer change.
   */
  oldWorkerIdleClients: number;
}

/** Connections that still reach, or may still reach, the server: what a drain waits for. */
export const liveConnectionsOf = (load: ServerLoad | undefined): number => (load ? load.sessions + load.oldWorkerIdleClients : 0);

const SERVER = 2;
const usable = (status: string): boolean => !/^(MAINT|DRAIN)/.test(status);

/**
 * Sums what the workers report. After a reload the old workers keep their own sessions and stats:
 * the current worker does not see them, so they are added here. An old worker's idle clients are
 * its frontend connections minus its backend's sessions.
 */
export function serverLoads(stats: WorkerStats): Map<string, ServerLoad> {
  const loads = new Map<string, ServerLoad>();
  const load = (server: string): ServerLoad => {
    let entry = loads.get(server);
    if (!entry) loads.set(server, (entry = { server, sessions: 0, oldWorkerIdleClients: 0 }));
    return entry;
  };
  for (const rows of stats.current) for (const row of rows) if (row.type === SERVER) load(row.svname).sessions += row.scur + row.qcur;
  for (const worker of stats.old) {
    const servers = worker.backend.filter((row) => row.type === SERVER);
    for (const row of servers) load(row.svname).sessions += row.scur + row.qcur;
    const clients = worker.frontend.find((row) => row.svname === 'FRONTEND')?.scur ?? 0;
    const busy = worker.backend.find((row) => row.svname === 'BACKEND')?.scur ?? 0;
    const idle = Math.max(0, clients - busy);
    if (idle > 0) for (const row of servers) if (usable(row.status)) load(row.svname).oldWorkerIdleClients += idle;
  }
  return loads;
}
