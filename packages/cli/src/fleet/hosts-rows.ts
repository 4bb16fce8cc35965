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

export interface HostList {
  hosts: RegisteredHost[];
  /** Registration keys whose values fail the schema: reported, never trusted. */
  invalid: InvalidRegistration[];
}

/** Registrations among the keys of a project's hosts prefix (other keys are ignored). */
export function hostsFromEntries(keys: KeyLayout, project: string, entries: Iterable<[string, string]>): HostList {
  const list: HostList = { hosts: [], invalid: [] };
  for (const [key, record] of recordMap(keys, entries).entries(keys.hostsPrefix(project))) {
    if (record.ref?.kind !== 'registration') continue;
    const registration = valueOf(record, 'registration');
    if (registration) list.hosts.push({ ...registration, key });
    else list.invalid.push({ host: record.ref.host, key, problem: record.problem ?? 'invalid' });
  }
  list.hosts.sort((a, b) => a.hostId.localeCompare(b.hostId));
  list.invalid.sort((a, b) => a.host.localeCompare(b.host));
  return list;
}

export const HOSTS_HEADER = ['HOST', 'ADDRESS', 'LABELS', 'AGENT VERSION', 'STARTED'];

export function hostCells(host: HostRegistration, now: Date): string[] {
  const labels = Object.entries(host.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return [host.hostId, host.address, labels || '-', host.agentVersion, `${ageSince(host.startedAt, now)} ago`];
}
