import { recordMap, valueOf, type HostRegistration, type KeyLayout } from '@gantry/spec';
import { ageSince } from './age';

/** The pure half of `gantry hosts`: registrations from raw keys, and the table. */

export interface RegisteredHost extends HostRegistration {
  key: string;
}

export interface InvalidRegistration {
  host: string;
  key: string;
  /** What is wrong with the value. */
  problem: string;
}

/**
 * A host that is gone: its status keys or agent record are left, but it has no registration (its
 * agent stopped or died, and its lease expired). The coordinator removes its status keys and agent
 * record once it has been gone for the retention (`gantryd --gone-host-retention`); its host-desired
 * keys (operator intent) stay.
 */
export interface GoneHost {
  host: string;
  /** The newest `updatedAt` of its status and agent records (as the host wrote it): when it was last heard of. */
  lastStatusAt?: string;
  /** Components it has a status key for. */
  statuses: string[];
  /** It has an agent record left. */
  agent: boolean;
  /** Components it has a host-desired key (pin) for: never removed by the coordinator. */
  pins: string[];
}

export interface HostList {
  hosts: RegisteredHost[];
  /** Registration keys whose values fail the schema: reported, never trusted. */
  invalid: InvalidRegistration[];
  /** Hosts with keys left but no registration. */
  gone: GoneHost[];
}

/** Registrations among the keys of a project's hosts prefix, and the hosts that are gone (other keys are ignored). */
export function hostsFromEntries(keys: KeyLayout, project: string, entries: Iterable<[string, string]>): HostList {
  const list: HostList = { hosts: [], invalid: [], gone: [] };
  const registered = new Set<string>();
  const left = new Map<string, GoneHost>();
  const of = (host: string) => {
    let g = left.get(host);
    if (!g) left.set(host, (g = { host, statuses: [], agent: false, pins: [] }));
    return g;
  };
  const heard = (g: GoneHost, at: string | undefined) => {
    if (at && (g.lastStatusAt === undefined || Date.parse(at) > Date.parse(g.lastStatusAt))) g.lastStatusAt = at;
  };
  for (const [key, record] of recordMap(keys, entries).entries(keys.hostsPrefix(project))) {
    const ref = record.ref;
    if (ref === undefined || !('host' in ref)) continue;
    if (ref.kind === 'registration') {
      registered.add(ref.host);
      const registration = valueOf(record, 'registration');
      if (registration) list.hosts.push({ ...registration, key });
      else list.invalid.push({ host: ref.host, key, problem: record.problem ?? 'invalid' });
    } else if (ref.kind === 'status') {
      of(ref.host).statuses.push(ref.component);
      heard(of(ref.host), valueOf(record, 'status')?.updatedAt);
    } else if (ref.kind === 'agent') {
      of(ref.host).agent = true;
      heard(of(ref.host), valueOf(record, 'agent')?.updatedAt);
    } else if (ref.kind === 'host-desired') {
      of(ref.host).pins.push(ref.component);
    }
  }
  // Pins alone do not make a host gone: they may be for a host not started yet.
  list.gone = [...left.values()].filter((g) => !registered.has(g.host) && (g.statuses.length > 0 || g.agent));
  for (const g of list.gone) {
    g.statuses.sort();
    g.pins.sort();
  }
  list.hosts.sort((a, b) => a.hostId.localeCompare(b.hostId));
  list.invalid.sort((a, b) => a.host.localeCompare(b.host));
  list.gone.sort((a, b) => a.host.localeCompare(b.host));
  return list;
}

export const GONE_HEADER = ['HOST', 'LAST STATUS', 'KEYS LEFT'];

export function goneCells(host: GoneHost, now: Date): string[] {
  const left = [host.statuses.length ? `status: ${host.statuses.join(',')}` : '', host.agent ? 'agent' : '', host.pins.length ? `pins: ${host.pins.join(',')}` : ''].filter(Boolean);
  return [host.host, host.lastStatusAt ? `${ageSince(host.lastStatusAt, now)} ago` : '-', left.join('; ')];
}

export const HOSTS_HEADER = ['HOST', 'ADDRESS', 'LABELS', 'AGENT VERSION', 'STARTED'];

export function hostCells(host: HostRegistration, now: Date): string[] {
  const labels = Object.entries(host.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return [host.hostId, host.address, labels || '-', host.agentVersion, `${ageSince(host.startedAt, now)} ago`];
}
