import { z } from 'zod';
import { portNumber, seconds } from './primitives';

/**
 * A check run against a container. Gantryd's fields (`kind`, `id`, `port`, `path`, `timeout` in
 * seconds) load unchanged; `interval`, `retries`, `expectStatus`, `command` are Gantry's additions.
 */
const common = {
  /** A name shown in reports; defaults to the kind. */
  id: z.string().min(1).optional(),
  /** Per-attempt timeout, seconds (Gantryd's unit). Fractions allowed. */
  timeout: seconds.default(3),
  /** Pause between attempts, seconds. Defaults: 0.1 for ready checks, 5 for health checks. */
  interval: seconds.optional(),
  /** Consecutive failures before a health check marks the container unhealthy. */
  retries: z.number().int().min(1).max(100).default(3),
};

const httpCheck = z.strictObject({
  ...common,
  kind: z.enum(['http', 'https']),
  /** Container port to request. */
  port: portNumber,
  path: z.string().startsWith('/', 'must start with "/"').default('/'),
  /** Statuses that pass; default: any 2xx or 3xx. */
  expectStatus: z.array(z.number().int().min(100).max(599)).min(1).optional(),
});

const tcpCheck = z.strictObject({ ...common, kind: z.literal('tcp'), port: portNumber });

/** Passes when Docker reports the image's own HEALTHCHECK as healthy. */
const dockerCheck = z.strictObject({ ...common, kind: z.literal('docker') });

/** Runs a command inside the container; exit status 0 passes. */
const execCheck = z.strictObject({ ...common, kind: z.literal('exec'), command: z.array(z.string().min(1)).min(1) });

export const checkSchema = z.discriminatedUnion('kind', [httpCheck, tcpCheck, dockerCheck, execCheck]);
export type Check = z.infer<typeof checkSchema>;
export type CheckKind = Check['kind'];

/**
 * Termination checks decide when a draining container may be stopped. Gantryd's default, and
 * Gantry's, is `connection`: no live connections left through the proxy.
 */
const connectionCheck = z.strictObject({ ...common, kind: z.literal('connection') });
export const terminationCheckSchema = z.discriminatedUnion('kind', [httpCheck, tcpCheck, dockerCheck, execCheck, connectionCheck]);
export type TerminationCheck = z.infer<typeof terminationCheckSchema>;

/** Sent to a container when it starts draining: an HTTP(S) POST, or a command run inside it. */
const httpSignal = z.strictObject({
  id: z.string().min(1).optional(),
  kind: z.enum(['http', 'https']),
  port: portNumber,
  path: z.string().startsWith('/', 'must start with "/"').default('/'),
  timeout: seconds.default(3),
});
const execSignal = z.strictObject({
  id: z.string().min(1).optional(),
  kind: z.literal('exec'),
  command: z.array(z.string().min(1)).min(1),
  timeout: seconds.default(3),
});
export const terminationSignalSchema = z.discriminatedUnion('kind', [httpSignal, execSignal]);
export type TerminationSignal = z.infer<typeof terminationSignalSchema>;

/** The name a report uses for a check or signal. */
export const checkTitle = (check: { id?: string; kind: string }): string => check.id ?? check.kind;
