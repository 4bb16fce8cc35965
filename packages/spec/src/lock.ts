import { z } from 'zod';

/**
 * A deploy lock (`gantry lock acquire`): while someone holds it, `gantry deploy`, `rollout undo`
 * and `set-version` of the project (the project lock) or of one component (its lock) are refused
 * to everyone else. A lock with a TTL is bound to an etcd lease of that TTL that nobody keeps
 * alive: etcd deletes it by itself, on etcd's clock, never on a timestamp read here.
 */
export const lockRecordSchema = z.strictObject({
  /** Who holds it: `--holder`, by default user@hostname of whoever acquired it. */
  holder: z.string().min(1).max(200),
  /** Why (`-m`): shown to everyone refused. */
  message: z.string().min(1, 'say why with -m MESSAGE').max(1000),
  /** When it was acquired, for people (never compared with this host's clock). */
  acquiredAt: z.iso.datetime({ offset: true }),
  /** The TTL it was acquired with, seconds; absent: held until released. */
  ttlSeconds: z.number().int().positive().optional(),
});
export type LockRecord = z.infer<typeof lockRecordSchema>;
