import type { ExistingKey, LeaseKeeper } from '@gantry/etcd';
import { hostRegistrationSchema, type HostRegistration } from '@gantry/spec';

/** Exit code of gantryd when its host id already runs elsewhere (or on this machine). */
export const EXIT_HOST_ALREADY_RUNNING = 4;

/** Who holds a registration, for messages: "address 127.0.1.1, pid 4242, hostname web-1, started at …". */
export function describeHolder(existing: Pick<ExistingKey, 'value'>): string {
  let raw: unknown;
  try {
    raw = JSON.parse(existing.value);
  } catch {
    return `an unreadable registration (${JSON.stringify(existing.value.slice(0, 200))})`;
  }
  const parsed = hostRegistrationSchema.safeParse(raw);
  const r: Partial<HostRegistration> = parsed.success ? parsed.data : typeof raw === 'object' && raw !== null ? (raw as Partial<HostRegistration>) : {};
  const parts = [
    `address ${r.address ?? '?'}`,
    `pid ${r.pid ?? '?'}`,
    `hostname ${r.hostname ?? '?'}`,
    `started at ${r.startedAt ?? '?'}`,
    ...(r.agentVersion ? [`version ${r.agentVersion}`] : []),
  ];
  return parts.join(', ');
}

/** The host's registration is held by another live gantryd: this one must not run. */
export class HostAlreadyRunningError extends Error {
  readonly exitCode = EXIT_HOST_ALREADY_RUNNING;
  constructor(
    readonly hostId: string,
    readonly key: string,
    readonly existing: ExistingKey,
  ) {
    super(`host ${hostId} is already running: another gantryd holds its registration ${key} (${describeHolder(existing)}; lease ${existing.leaseId})`);
    this.name = 'HostAlreadyRunningError';
  }

  /** The holder's registration fields, as far as they can be read. */
  get holder(): Partial<HostRegistration> {
    try {
      const raw: unknown = JSON.parse(this.existing.value);
      return typeof raw === 'object' && raw !== null ? (raw as Partial<HostRegistration>) : {};
    } catch {
      return {};
    }
  }
}

/**
 * Registers the host, only if no other gantryd has: the registration is created in an etcd
 * transaction only if the key does not exist (create revision 0), bound to `lease`; if it exists
 * under another lease, the holder is left alone and HostAlreadyRunningError names it. (One under
 * no lease is taken over: a live gantryd's registration is always bound to its lease.) The keeper goes on re-creating it —
 * never overwriting — after every lease loss (its `onConflict` says when someone else took it).
 * Resolves once registered; waits while etcd is unreachable.
 */
export async function registerHost(lease: LeaseKeeper, key: string, registration: HostRegistration): Promise<void> {
  const result = await lease.putIfAbsent(key, JSON.stringify(registration));
  if (result.outcome === 'exists') throw new HostAlreadyRunningError(registration.hostId, key, result.existing);
  if (result.outcome === 'refused') throw result.error;
  if (result.outcome !== 'written') throw new Error(`registering host ${registration.hostId}: ${result.outcome} before etcd held the registration`);
}
