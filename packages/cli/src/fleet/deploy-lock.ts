import { lockRecordSchema, type KeyLayout, type LockRecord, type RecordSource } from '@gantry/spec';
import { CliError } from '../cli-error';
import { ExitCode } from '../exit-codes';
import type { FleetClient, StoredValue } from './fleet-client';
import { operator } from './operator';

/** Who this CLI acts as, for locks: $GANTRY_LOCK_HOLDER (a team's shared name, a CI job), else user@hostname. */
export function lockHolder(env: NodeJS.ProcessEnv = process.env): string {
  return env.GANTRY_LOCK_HOLDER || operator();
}

/** A lock as stored: its record, or why the value cannot be read (then it counts as held: nothing is done on a guess). */
export interface StoredLock {
  key: string;
  modRevision: string;
  lock?: LockRecord;
  problem?: string;
}

export async function readLock(fleet: FleetClient, component?: string): Promise<StoredLock | undefined> {
  const key = fleet.keys.lock(fleet.project, component);
  const stored = await fleet.get(key);
  return stored && parseLock(stored);
}

/** A stored value at a lock key, read as a lock (or as the problem that keeps it from being one). */
export function parseLock(stored: StoredValue): StoredLock {
  const { key, modRevision } = stored;
  let raw: unknown;
  try {
    raw = JSON.parse(stored.value);
  } catch {
    return { key, modRevision, problem: 'not JSON' };
  }
  const parsed = lockRecordSchema.safeParse(raw);
  return parsed.success ? { key, modRevision, lock: parsed.data } : { key, modRevision, problem: parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') };
}

/** "locked by alice@ops since 2026-12-02T10:00:00Z: \"release freeze\" (KEY)". */
export function describeLock(stored: StoredLock): string {
  if (!stored.lock) return `locked: ${stored.key} holds a value that is not a valid lock (${stored.problem}); delete it, or \`gantry lock release --force\``;
  const { holder, message, acquiredAt, ttlSeconds } = stored.lock;
  return `locked by ${holder} since ${acquiredAt}${ttlSeconds ? ` (TTL ${ttlSeconds} s)` : ''}: "${message}" (${stored.key})`;
}

const heldByOther = (stored: StoredLock | undefined, holder: string): stored is StoredLock => stored !== undefined && stored.lock?.holder !== holder;

/** The project's lock and the component's, as stored now (absent: undefined). */
export const readLocks = async (fleet: FleetClient, component: string): Promise<[StoredLock | undefined, StoredLock | undefined]> => [await readLock(fleet), await readLock(fleet, component)];

/** The first of `locks` someone other than `holder` holds (an unreadable one counts as held). */
export const blockingLock = (locks: ReadonlyArray<StoredLock | undefined>, holder: string): StoredLock | undefined => locks.find((l) => heldByOther(l, holder));

/**
 * The project's and the component's locks, for a verb that changes what runs: refused (exit 5,
 * naming who, why and since when) while another holds either; with `waitS`, waits up to that long
 * for them to go first. Returns guards for the verb's transaction — each lock key's mod revision,
 * "0" for absent — so a lock taken between this read and the write makes the write fail, and the
 * verb's next attempt is refused here.
 */
export async function lockGuards(fleet: FleetClient, component: string, opts: { holder: string; waitS?: number; signal?: AbortSignal }): Promise<Array<{ key: string; modRevision: string }>> {
  const deadline = Date.now() + (opts.waitS ?? 0) * 1000;
  for (;;) {
    const locks = await readLocks(fleet, component);
    const blocking = blockingLock(locks, opts.holder);
    if (!blocking) {
      return [fleet.keys.lock(fleet.project), fleet.keys.lock(fleet.project, component)].map((key, i) => ({ key, modRevision: locks[i]?.modRevision ?? '0' }));
    }
    if (Date.now() >= deadline || opts.signal?.aborted) {
      const waited = opts.waitS ? ` (waited ${opts.waitS} s)` : '';
      throw new CliError(`${component} of ${fleet.project} is ${describeLock(blocking)}${waited}; wait with --lock-wait SECONDS`, ExitCode.locked, {
        key: blocking.key,
        ...(blocking.lock && { lock: blocking.lock }),
        ...(blocking.problem && { problem: blocking.problem }),
      });
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(500, Math.max(50, deadline - Date.now()))));
  }
}

/** `--lock-wait SECONDS`, for the verbs that check locks. */
export const lockWaitOption = { type: 'number', default: 0, describe: "seconds to wait for someone else's deploy lock to go before giving up (exit 5)" } as const;

/** The project's locks among parsed records (a mirror, or a range read), project lock first: what `gantry status` shows. */
export function locksIn(records: RecordSource, keys: KeyLayout, project: string): StoredLock[] {
  const locks: StoredLock[] = [];
  for (const [key, record] of records.entries(keys.lock(project))) {
    if (record.problem !== undefined) locks.push({ key, modRevision: '', problem: record.problem });
    else if (record.ref.kind === 'lock') locks.push({ key, modRevision: '', lock: record.value as LockRecord });
  }
  return locks.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** A lock for --json: its key and record, or its problem. */
export const lockJson = (l: StoredLock) => ({ key: l.key, ...(l.lock ?? {}), ...(l.problem && { problem: l.problem }) });
