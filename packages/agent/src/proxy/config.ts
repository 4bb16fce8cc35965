import { createHash } from 'node:crypto';
import type { DesiredProxy, DesiredServer } from './desired';
import { backendName, frontendProxyName, hostPort } from './frontend';
import { HOLD_ACTION, HOLD_LUA_TIMEOUT } from './maintenance-hold';
import { maintenanceRules, type MaintenanceMapPaths } from './maintenance-maps';

/** HAProxy time value: a number with an optional unit (us, ms, s, m, h, d), e.g. `5s`, `1h`. */
export type HaproxyTime = string;

/** Tunables of the rendered config that are not per frontend. */
export interface ProxySettings {
  timeouts: {
    connect: HaproxyTime;
    /** Client inactivity; long so that slow responses and streams are not cut. */
    client: HaproxyTime;
    server: HaproxyTime;
    /** Inactivity of websocket/CONNECT/tcp tunnels. */
    tunnel: HaproxyTime;
    /** Time allowed to receive a complete request head (slowloris guard). */
    httpRequest: HaproxyTime;
    /** Idle time between requests on a keep-alive client connection. */
    httpKeepAlive: HaproxyTime;
  };
  /** Old workers still serving long sessions after a reload are killed after this long. */
  hardStopAfter: HaproxyTime;
  /** Adds `option forwardfor` (X-Forwarded-For) to http frontends. */
  forwardFor: boolean;
  /**
   * `option idle-close-on-response` on http frontends (default on). Off, HAProxy's default: on a
   * reload the old worker closes idle keep-alive client connections at once, and clients that send
   * on one at that moment get a reset (measured: 2-5 per 20 reloads under keep-alive load). On: the
   * old worker answers one more request on each idle connection (with `Connection: close`), routed
   * by its own server list, which the Runtime API can no longer change ("Proxy is disabled"); so
   * `liveConnections` counts those idle connections for every server the old worker may pick.
   */
  idleCloseOnResponse: boolean;
  /** Global connection limit; HAProxy derives one from the fd limit when absent. */
  maxconn?: number;
}

export const DEFAULT_SETTINGS: ProxySettings = {
  timeouts: { connect: '5s', client: '1h', server: '1h', tunnel: '1h', httpRequest: '30s', httpKeepAlive: '60s' },
  hardStopAfter: '1h',
  forwardFor: false,
  idleCloseOnResponse: true,
};

/** Settings as callers give them: anything left out takes its default. */
export interface ProxySettingsInput {
  timeouts?: Partial<ProxySettings['timeouts']>;
  hardStopAfter?: HaproxyTime;
  forwardFor?: boolean;
  idleCloseOnResponse?: boolean;
  maxconn?: number;
}

const TIME = /^\d+(us|ms|s|m|h|d)?$/;

export function resolveSettings(input: ProxySettingsInput = {}): ProxySettings {
  const settings: ProxySettings = {
    timeouts: { ...DEFAULT_SETTINGS.timeouts, ...input.timeouts },
    hardStopAfter: input.hardStopAfter ?? DEFAULT_SETTINGS.hardStopAfter,
    forwardFor: input.forwardFor ?? DEFAULT_SETTINGS.forwardFor,
    idleCloseOnResponse: input.idleCloseOnResponse ?? DEFAULT_SETTINGS.idleCloseOnResponse,
    ...(input.maxconn !== undefined ? { maxconn: input.maxconn } : {}),
  };
  for (const [key, value] of [...Object.entries(settings.timeouts), ['hardStopAfter', settings.hardStopAfter] as const]) {
    if (!TIME.test(value)) throw new Error(`invalid HAProxy time ${JSON.stringify(value)} for ${key}: expected e.g. 5s, 1h`);
  }
  if (settings.maxconn !== undefined && (!Number.isInteger(settings.maxconn) || settings.maxconn < 1)) {
    throw new Error(`invalid maxconn ${settings.maxconn}`);
  }
  return settings;
}

/** Where the rendered config points HAProxy to. */
export interface ConfigPaths {
  adminSocket: string;
  serverState: string;
  maintenanceMaps: MaintenanceMapPaths;
  holdScript: string;
}

export interface ConfigInput {
  paths: ConfigPaths;
  settings: ProxySettings;
  desired: DesiredProxy;
}

/**
 * Renders haproxy.cfg. Every server of `desired` is written out (dynamic servers added over the
 * Runtime API would otherwise vanish on reload); `maint` ones as `disabled`. Their exact state
 * (incl. `drain`, which has no config keyword) comes from the server-state file, see
 * {@link renderServerState}. No health checks: the agent checks containers itself.
 */
export function renderConfig({ paths, settings, desired }: ConfigInput): string {
  const t = settings.timeouts;
  const lines: string[] = [
    '# Rendered by gantryd from desired.json. Do not edit: it is rewritten on every change.',
    'global',
    '    master-worker',
    // expose-fd listeners: a reload hands the listening sockets to the new worker (no refused connections).
    `    stats socket ${paths.adminSocket} mode 600 level admin expose-fd listeners`,
    '    stats timeout 2m',
    `    server-state-file ${paths.serverState}`,
    `    hard-stop-after ${settings.hardStopAfter}`,
    // Maintenance's --hold (maintenance-hold.ts); it also loads the hold map, with or without http frontends.
    `    lua-load ${paths.holdScript}`,
    `    tune.lua.session-timeout ${HOLD_LUA_TIMEOUT}`,
  ];
  if (settings.maxconn !== undefined) lines.push(`    maxconn ${settings.maxconn}`);
  lines.push(
    '',
    'defaults',
    '    load-server-state-from-file global',
    // A request sent on a server connection that died before answering (a reused one, to a
    // docker-proxy that went down with dockerd, say) is sent again rather than failed, if idempotent.
    // Retries are a second apart (HAProxy's turn-around: min(timeout connect, 1 s)), so 6 cover a
    // refused window of ~6 s: docker-proxy is gone for the whole of a live-restore dockerd restart,
    // measured 3.4–3.7 s, which 3 retries did not always cover (1 request in ~500 got a 503).
    '    retries 6',
    '    retry-on conn-failure empty-response',
    `    timeout connect ${t.connect}`,
    `    timeout client ${t.client}`,
    `    timeout server ${t.server}`,
    `    timeout tunnel ${t.tunnel}`,
    `    timeout http-request ${t.httpRequest}`,
    `    timeout http-keep-alive ${t.httpKeepAlive}`,
  );
  for (const frontend of desired.frontends) {
    const backend = backendName(frontend.name);
    lines.push('', `frontend ${frontendProxyName(frontend.name)}`, `    mode ${frontend.mode}`, `    bind ${hostPort(frontend.bindAddress, frontend.port)}`);
    if (frontend.mode === 'http' && settings.idleCloseOnResponse) lines.push('    option idle-close-on-response');
    if (frontend.mode === 'http' && settings.forwardFor) lines.push('    option forwardfor');
    // Always there, so that maintenance on and off are map changes, never a reload.
    if (frontend.mode === 'http') lines.push(...maintenanceRules(paths.maintenanceMaps, HOLD_ACTION).map((rule) => `    ${rule}`));
    lines.push(`    default_backend ${backend}`);
    // roundrobin is a dynamic algorithm: required for `add server`.
    lines.push('', `backend ${backend}`, `    mode ${frontend.mode}`, '    balance roundrobin');
    // Sent again only when sending again is harmless: a POST the dead server may have acted on is not.
    if (frontend.mode === 'http') lines.push('    http-request disable-l7-retry unless METH_GET || METH_HEAD || METH_OPTIONS');
    for (const server of desired.servers[frontend.name] ?? []) lines.push(`    ${serverLine(server)}`);
  }
  return `${lines.join('\n')}\n`;
}

const serverLine = (s: DesiredServer): string => `server ${s.name} ${hostPort(s.address, s.port)}${s.state === 'maint' ? ' disabled' : ''}`;

/**
 * Identifies everything in the config except the servers: when it changes, the running HAProxy
 * must reload; when only servers change, the Runtime API suffices.
 */
export function structureFingerprint(input: ConfigInput): string {
  const servers = Object.fromEntries(input.desired.frontends.map((f) => [f.name, []]));
  const structure = renderConfig({ ...input, desired: { ...input.desired, servers } });
  return createHash('sha256').update(structure).digest('hex').slice(0, 32);
}

/**
 * HAProxy admin-state bits (server-t.h, 2.6): FMAINT 0x01 forced maintenance, FDRAIN 0x08 forced
 * drain. Operational state: 0 stopped, 2 running.
 */
const STATE_FIELDS: Record<DesiredServer['state'], { op: number; admin: number }> = {
  ready: { op: 2, admin: 0 },
  drain: { op: 2, admin: 0x08 },
  maint: { op: 0, admin: 0x01 },
};

const SERVER_STATE_HEADER =
  '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port';

/**
 * Renders the server-state file (format version 1, as `show servers state` prints it) that the
 * config loads on start and reload, so each server comes up ready, drain or maint as desired.
 * Ids are 0 (not forced): HAProxy matches lines by backend and server name. Address and port are
 * written as desired because HAProxy applies the file's port over the config's.
 */
export function renderServerState(desired: DesiredProxy): string {
  const lines = ['1', SERVER_STATE_HEADER];
  for (const frontend of desired.frontends) {
    for (const s of desired.servers[frontend.name] ?? []) {
      const { op, admin } = STATE_FIELDS[s.state];
      // be_id be_name srv_id srv_name srv_addr op admin uweight iweight since check_status check_result check_health check_state agent_state bk_forced srv_forced fqdn port srvrecord use_ssl check_port check_addr agent_addr agent_port
      lines.push(`0 ${backendName(frontend.name)} 0 ${s.name} ${s.address} ${op} ${admin} 1 1 0 1 0 0 0 0 0 0 - ${s.port} - 0 0 - - 0`);
    }
  }
  return `${lines.join('\n')}\n`;
}
