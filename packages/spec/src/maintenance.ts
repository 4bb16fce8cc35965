import { z } from 'zod';
import { portNumber } from './primitives';
import { hostSelectorSchema } from './rollout';

/** Longest maintenance message: it is rendered into every 503 answer (HTML-escaped, so up to 6× as bytes). */
export const MAX_MAINTENANCE_MESSAGE = 1000;

/** Longest `--hold`: held requests keep a client connection each, so the pause is meant to be short. */
export const MAX_MAINTENANCE_HOLD_SECONDS = 120;

const timestamp = z.iso.datetime({ offset: true });

/**
 * A component in maintenance (`gantry maintenance on`), at `maintenance/<component>`: on the hosts
 * the selector picks, the component's HTTP frontends answer 503 with `message` (a small HTML page,
 * or JSON when the request accepts application/json) while its containers stay exactly as they are.
 * Deleting the key (`gantry maintenance off`) restores traffic.
 */
export const maintenanceRecordSchema = z.strictObject({
  /** What clients are told, as text (never markup: it is escaped). */
  message: z.string().trim().min(1, 'say what clients should read with --message TEXT').max(MAX_MAINTENANCE_MESSAGE),
  /** Which hosts answer 503: all (default), ids, or labels, as `gantry deploy --hosts`. */
  hosts: hostSelectorSchema.default({ all: true }),
  /**
   * Requests are held (not answered) up to this many seconds before they get the 503 (kamal-proxy's
   * pause): an `off` within that time lets them through to the containers. Absent: answered at once.
   */
  holdSeconds: z.number().int().min(1).max(MAX_MAINTENANCE_HOLD_SECONDS).optional(),
  /** When it was turned on, for people: nothing compares it with a clock. */
  since: timestamp,
  /** Who turned it on (user@host). */
  by: z.string().min(1).max(200),
});
export type MaintenanceRecord = z.infer<typeof maintenanceRecordSchema>;

/**
 * A component's maintenance as one host applied it, in its status: present while the host's proxy
 * answers 503 for it. `since` and `message` are the record's; the ports say what answers.
 */
export const maintenanceStatusSchema = z.strictObject({
  message: z.string(),
  since: timestamp,
  holdSeconds: z.number().int().positive().optional(),
  /** The component's HTTP ports that answer 503 on this host. */
  httpPorts: z.array(portNumber),
  /** Its TCP ports: left serving (a TCP stream has no way to carry a 503). */
  tcpPorts: z.array(portNumber),
});
export type MaintenanceStatus = z.infer<typeof maintenanceStatusSchema>;
