import type { Frontend, ProxyServer, ServerState } from './frontend';
import type { MaintenanceAnswer } from './maintenance-maps';

/** A server as the agent wants it: where it is and which state it should be in. */
export interface DesiredServer extends ProxyServer {
  state: ServerState;
}

/**
 * What the host's proxy should look like. Persisted as JSON in the state directory; the HAProxy
 * config and server-state file are rendered from it. Kept normalised (sorted) so that equal
 * contents render to identical files.
 */
export interface DesiredProxy {
  frontends: Frontend[];
  /** Servers per frontend name; every frontend has an entry (possibly empty). */
  servers: Record<string, DesiredServer[]>;
  /**
   * Frontends answering 503 (by frontend name), see maintenance-maps.ts. Kept for names no frontend
   * has yet: a component put in maintenance before it first runs here answers 503 from its start.
   * Absent when none is.
   */
  maintenance?: Record<string, MaintenanceAnswer>;
}

export const emptyDesired = (): DesiredProxy => ({ frontends: [], servers: {} });

const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Sorted frontends and servers, an entry for every frontend, nothing for unknown frontends. */
export function normalizeDesired(desired: DesiredProxy): DesiredProxy {
  const frontends = [...desired.frontends].map((f) => ({ name: f.name, bindAddress: f.bindAddress, port: f.port, mode: f.mode })).sort(byName);
  const servers: Record<string, DesiredServer[]> = {};
  for (const f of frontends) {
    servers[f.name] = [...(desired.servers[f.name] ?? [])]
      .map((s) => ({ name: s.name, address: s.address, port: s.port, state: s.state }))
      .sort(byName);
  }
  const maintenance = normalizeMaintenance(desired.maintenance ?? {});
  return Object.keys(maintenance).length > 0 ? { frontends, servers, maintenance } : { frontends, servers };
}

function normalizeMaintenance(maintenance: Record<string, MaintenanceAnswer>): Record<string, MaintenanceAnswer> {
  return Object.fromEntries(
    Object.keys(maintenance)
      .sort()
      .map((name) => {
        const { message, since, holdSeconds } = maintenance[name]!;
        return [name, { message, since, ...(holdSeconds !== undefined && { holdSeconds }) }];
      }),
  );
}

/** Replaces which frontends answer 503 (frontend name → answer); frontends and servers stay. */
export function withMaintenance(desired: DesiredProxy, maintenance: Record<string, MaintenanceAnswer>): DesiredProxy {
  return normalizeDesired({ ...desired, maintenance });
}

/** Replaces the frontends; servers of frontends that remain are kept, the others dropped. */
export function withFrontends(desired: DesiredProxy, frontends: Frontend[]): DesiredProxy {
  const names = new Set<string>();
  for (const f of frontends) {
    if (names.has(f.name)) throw new Error(`frontend ${f.name} is listed twice`);
    names.add(f.name);
  }
  const binds = new Set<string>();
  for (const f of frontends) {
    const bind = `${f.bindAddress}:${f.port}`;
    if (binds.has(bind)) throw new Error(`two frontends bind ${bind}`);
    binds.add(bind);
  }
  return normalizeDesired({ frontends, servers: desired.servers, maintenance: desired.maintenance });
}

export function findFrontend(desired: DesiredProxy, frontend: string): Frontend | undefined {
  return desired.frontends.find((f) => f.name === frontend);
}

export function findServer(desired: DesiredProxy, frontend: string, server: string): DesiredServer | undefined {
  return desired.servers[frontend]?.find((s) => s.name === server);
}

/** Adds the server or replaces the one with the same name. */
export function withServer(desired: DesiredProxy, frontend: string, server: DesiredServer): DesiredProxy {
  const others = (desired.servers[frontend] ?? []).filter((s) => s.name !== server.name);
  return normalizeDesired({ ...desired, servers: { ...desired.servers, [frontend]: [...others, server] } });
}

export function withoutServer(desired: DesiredProxy, frontend: string, server: string): DesiredProxy {
  const others = (desired.servers[frontend] ?? []).filter((s) => s.name !== server);
  return normalizeDesired({ ...desired, servers: { ...desired.servers, [frontend]: others } });
}

export const sameDesired = (a: DesiredProxy, b: DesiredProxy): boolean =>
  JSON.stringify(normalizeDesired(a)) === JSON.stringify(normalizeDesired(b));

/** Parses persisted JSON, rejecting anything that is not a desired-proxy document. */
export function parseDesired(text: string): DesiredProxy {
  const value = JSON.parse(text) as Partial<DesiredProxy> | null;
  if (!value || !Array.isArray(value.frontends) || typeof value.servers !== 'object' || value.servers === null || (value.maintenance !== undefined && (typeof value.maintenance !== 'object' || value.maintenance === null))) {
    throw new Error('not a desired-proxy document');
  }
  return normalizeDesired(value as DesiredProxy);
}
