import { join, resolve } from 'node:path';
import type { MaintenanceMapPaths } from './maintenance-maps';

/** Every file the host's proxy keeps in its state directory. */
export interface ProxyPaths {
  dir: string;
  /** Rendered haproxy.cfg; always holds every server, so a reload keeps them. */
  config: string;
  /** Rendered server-state file HAProxy loads on start/reload, so servers keep their ready/drain/maint state. */
  serverState: string;
  /** The desired frontends and servers (JSON); the config and server-state file are derived from it. */
  desired: string;
  /** What the running master last loaded successfully: its pid and the config's structure fingerprint. */
  loaded: string;
  pidFile: string;
  /** Master CLI: `show proc`, `reload`, and `@!<pid>` routing to current and old workers. */
  masterSocket: string;
  /** Runtime API of the current worker. */
  adminSocket: string;
  /** stdout/stderr of the master process. */
  log: string;
  /** The map files of the frontends in maintenance, rendered from the desired state too. */
  maintenanceMaps: MaintenanceMapPaths;
  /** The Lua script of `--hold` (maintenance-hold.ts), rendered too. */
  holdScript: string;
}

/** Longest unix socket path Linux accepts (sun_path is 108 bytes including the NUL). */
const MAX_SOCKET_PATH = 107;

export function proxyPaths(stateDir: string): ProxyPaths {
  const dir = resolve(stateDir);
  const paths: ProxyPaths = {
    dir,
    config: join(dir, 'haproxy.cfg'),
    serverState: join(dir, 'servers.state'),
    desired: join(dir, 'desired.json'),
    loaded: join(dir, 'loaded.json'),
    pidFile: join(dir, 'haproxy.pid'),
    masterSocket: join(dir, 'master.sock'),
    adminSocket: join(dir, 'admin.sock'),
    log: join(dir, 'haproxy.log'),
    maintenanceMaps: { html: join(dir, 'maintenance-html.map'), json: join(dir, 'maintenance-json.map'), hold: join(dir, 'maintenance-hold.map') },
    holdScript: join(dir, 'maintenance-hold.lua'),
  };
  for (const socket of [paths.masterSocket, paths.adminSocket]) {
    if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) throw new Error(`state dir ${dir} is too deep: unix socket path ${socket} exceeds ${MAX_SOCKET_PATH} bytes`);
  }
  return paths;
}
