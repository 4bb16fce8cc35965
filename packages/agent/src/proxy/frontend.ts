import { isIP } from 'node:net';

/** A listening endpoint of the host's proxy: one HAProxy `frontend` with its own `backend`. */
export interface Frontend {
  /** Identifies the frontend to the agent; also names the HAProxy proxies (see {@link backendName}). */
  name: string;
  /** Address to bind, e.g. this host's loopback address `127.0.1.2`. Passed to HAProxy as is. */
  bindAddress: string;
  port: number;
  mode: 'http' | 'tcp';
}

/** One upstream (a container) that a frontend can send traffic to. */
export interface ProxyServer {
  /** Unique within its frontend; HAProxy's charset only (see {@link assertValidName}). */
  name: string;
  /** An IPv4 or IPv6 address. */
  address: string;
  port: number;
}

/**
 * `ready`: receives new traffic. `drain`: keeps its sessions but gets no new ones.
 * `maint`: gets nothing new; existing sessions are NOT closed by this state alone.
 */
export type ServerState = 'ready' | 'drain' | 'maint';

export const SERVER_STATES: readonly ServerState[] = ['ready', 'drain', 'maint'];

/** Characters HAProxy accepts in proxy and server names (`:` is allowed too, but kept out to avoid ambiguity with addresses). */
const VALID_NAME = /^[A-Za-z0-9_.-]+$/;
const MAX_NAME_LENGTH = 100;

/** Throws unless `name` can be used verbatim as an HAProxy proxy or server name. */
export function assertValidName(kind: string, name: string): void {
  if (!VALID_NAME.test(name) || name.length > MAX_NAME_LENGTH) {
    throw new Error(
      `invalid ${kind} name ${JSON.stringify(name)}: use 1-${MAX_NAME_LENGTH} characters from [A-Za-z0-9_.-] (sanitizeName() derives one)`,
    );
  }
}

/** Maps any string to a valid HAProxy name: disallowed characters become `_`, length is capped. */
export function sanitizeName(raw: string): string {
  const cleaned = raw.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, MAX_NAME_LENGTH);
  return cleaned.length > 0 ? cleaned : '_';
}

/** Name of the HAProxy `frontend` section for a frontend. */
export const frontendProxyName = (frontend: string): string => `fe_${frontend}`;

/** Name of the HAProxy `backend` section holding a frontend's servers. */
export const backendName = (frontend: string): string => `be_${frontend}`;

/** `host:port` as HAProxy writes it: IPv6 addresses in brackets. */
export function hostPort(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

export function assertValidPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid port ${port} for ${what}`);
}

export function assertValidFrontend(frontend: Frontend): void {
  assertValidName('frontend', frontend.name);
  assertValidPort(frontend.port, `frontend ${frontend.name}`);
  if (frontend.mode !== 'http' && frontend.mode !== 'tcp') throw new Error(`invalid mode ${String(frontend.mode)} for frontend ${frontend.name}`);
  if (!frontend.bindAddress || /\s/.test(frontend.bindAddress)) {
    throw new Error(`invalid bind address ${JSON.stringify(frontend.bindAddress)} for frontend ${frontend.name}`);
  }
}

export function assertValidServer(server: ProxyServer): void {
  assertValidName('server', server.name);
  if (isIP(server.address) === 0) throw new Error(`invalid address ${JSON.stringify(server.address)} for server ${server.name}: expected an IP address`);
  assertValidPort(server.port, `server ${server.name}`);
}

export function assertValidState(state: ServerState): void {
  if (!SERVER_STATES.includes(state)) throw new Error(`invalid server state ${String(state)}: expected one of ${SERVER_STATES.join(', ')}`);
}
