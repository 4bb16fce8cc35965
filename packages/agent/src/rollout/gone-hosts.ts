import type { FleetRecord, KeyLayout } from '@gantry/spec';

/** How long the status keys of a host whose registration is gone are kept, by default: a day. */
export const DEFAULT_GONE_HOST_RETENTION_MS = 24 * 3_600_000;

/**
 * `--gone-host-retention`: `90s`, `30m`, `24h`, `7d`, `500ms`, or plain seconds. undefined when
 * not a duration (negative, empty, an unknown unit).
 */
export function parseDurationMs(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? text * 1000 : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) return undefined;
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

/** What one host has left under the hosts prefix. */
export interface HostKeys {
  host: string;
  /** A registration key is there (valid or not): the host is not gone. */
  registered: boolean;
  /** Its status keys (one per component) and agent record: what the sweep removes. */
  statusKeys: string[];
  agentKey?: string;
}

/** The hosts under the project's hosts prefix and what each has left. Host-desired keys are not listed: they are operator intent, never swept. */
export function hostKeys(keys: KeyLayout, project: string, records: Iterable<[string, FleetRecord]>): Map<string, HostKeys> {
  const out = new Map<string, HostKeys>();
  const of = (host: string) => {
    let h = out.get(host);
    if (!h) out.set(host, (h = { host, registered: false, statusKeys: [] }));
    return h;
  };
  const prefix = keys.hostsPrefix(project);
  for (const [key, record] of records) {
    if (!key.startsWith(prefix) || record.ref === undefined || !('host' in record.ref)) continue;
    const ref = record.ref;
    if (ref.kind === 'registration') of(ref.host).registered = true;
    else if (ref.kind === 'status') of(ref.host).statusKeys.push(key);
    else if (ref.kind === 'agent') of(ref.host).agentKey = key;
  }
  return out;
}

export interface GoneSweep {
  /** When (coordinator clock, ms) each host was first seen gone; hosts back, or with nothing left, are not in it. */
  goneSince: Map<string, number>;
  /** Hosts gone for longer than the retention: their status keys and agent record are to be deleted. */
  expired: HostKeys[];
}

/**
 * Which gone hosts' keys to remove. A host is gone when it has status keys or an agent record but no
 * registration (its agent stopped or died and its lease expired). Its clock starts when this
 * coordinator first sees it gone, on the coordinator's monotonic clock — never from a timestamp
 * the host wrote — and a new coordinator starts it again (a longer wait, never a shorter one).
 * Pure: the caller keeps `goneSince` between passes.
 */
export function sweepGoneHosts(hosts: Map<string, HostKeys>, goneSince: ReadonlyMap<string, number>, mono: number, retentionMs: number): GoneSweep {
  const next = new Map<string, number>();
  const expired: HostKeys[] = [];
  for (const h of hosts.values()) {
    if (h.registered || (h.statusKeys.length === 0 && h.agentKey === undefined)) continue;
    const since = goneSince.get(h.host) ?? mono;
    next.set(h.host, since); // until its keys are really gone: a failed delete does not restart the clock
    if (mono - since >= retentionMs) expired.push(h);
  }
  return { goneSince: next, expired };
}
