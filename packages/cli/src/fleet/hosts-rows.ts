import { hostRegistrationSchema, parseJson, type HostRegistration, type KeyLayout, type ValidationProblem } from '@gantry/spec';
import { ageSince } from './age';

/** The pure half of `gantry hosts`: registrations from raw keys, and the table. */

export interface RegisteredHost extends HostRegistration {
  key: string;
}

export interface InvalidRegistration {
  host: string;
  key: string;
  problems: ValidationProblem[];
}

export interface HostList {
  hosts: RegisteredHost[];
  /** Registration keys whose values fail the schema: reported, never trusted. */
  invalid: InvalidRegistration[];
}

/** Registrations among the keys of a project's hosts prefix (other keys are ignored). */
export function hostsFromEntries(keys: KeyLayout, project: string, entries: Iterable<[string, string]>): HostList {
  const list: HostList = { hosts: [], invalid: [] };
  for (const [key, value] of entries) {
    const parsed = keys.parse(key);
    if (parsed?.kind !== 'registration' || parsed.project !== project) continue;
    const reg = parseJson(hostRegistrationSchema, value, key);
    if (!reg.ok) list.invalid.push({ host: parsed.host, key, problems: reg.error.problems });
    else if (reg.value.hostId !== parsed.host) list.invalid.push({ host: parsed.host, key, problems: [{ path: 'hostId', message: `"${reg.value.hostId}" does not match the key's host "${parsed.host}"` }] });
    else list.hosts.push({ ...reg.value, key });
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
