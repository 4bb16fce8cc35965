import { z } from 'zod';
import { identifier } from './primitives';
import { prepullStatusSchema, pullProgressSchema } from './prepull';
import { maintenanceStatusSchema } from './maintenance';

/**
 * The values stored under each key of {@link KeyLayout}. Every value is JSON and is validated on
 * read; a value that fails is ignored and reported (in the host's status), never trusted.
 */
const timestamp = z.iso.datetime({ offset: true });
const tag = z.string().regex(/^[\w][\w.-]{0,127}$/, 'a Docker tag');
const configHash = z.string().regex(/^[a-f0-9]{12}$/, 'a config hash: 12 hex digits');
const digest = z.string().regex(/^sha256:[a-f0-9]{64}$/, 'a digest "sha256:" followed by 64 hex digits');

/** What should run: written by `gantry set-version`, a rollout, or other tooling. */
export const desiredVersionSchema = z.strictObject({
  /** The image tag to run. */
  version: tag,
  /** Pin: the image must have this digest. */
  digest: digest.optional(),
  /** `stopped`: drain and remove every container of the component on the host. */
  state: z.enum(['running', 'stopped']).default('running'),
  /** Who wrote it (user@host, a rollout id, a tool's name). */
  setBy: z.string().min(1).max(200).optional(),
  setAt: timestamp.optional(),
  /** The rollout that wrote it, if any. */
  rollout: z.string().max(200).optional(),
  /**
   * The config generation to run: the component's config hash when this was written. An agent
   * whose serving container has it keeps it, even when the stored config has changed since; the
   * change reaches hosts as rollouts write the new hash. Without it, a config change applies at once.
   */
  configHash: configHash.optional(),
});
export type DesiredVersion = z.infer<typeof desiredVersionSchema>;

/** A live agent. Bound to the agent's lease: it disappears when the agent is gone. */
export const hostRegistrationSchema = z.strictObject({
  hostId: identifier,
  /** Where the host's proxy frontends listen. */
  address: z.string().min(1),
  labels: z.record(z.string(), z.string()).default({}),
  agentVersion: z.string().min(1),
  startedAt: timestamp,
  pid: z.number().int().positive().optional(),
  hostname: z.string().optional(),
});
export type HostRegistration = z.infer<typeof hostRegistrationSchema>;

/** A problem with a key's value or with acting on it, shown where the operator looks. */
export const problemSchema = z.strictObject({
  /** The etcd key whose value is at fault, when one is. */
  key: z.string().optional(),
  reason: z.string(),
  at: timestamp,
});
export type Problem = z.infer<typeof problemSchema>;

export const componentPhaseSchema = z.enum(['idle', 'pulling', 'starting', 'ready-checking', 'switching', 'draining', 'running', 'stopping', 'stopped', 'failed']);
export type ComponentPhase = z.infer<typeof componentPhaseSchema>;

export const checkResultRecordSchema = z.strictObject({ check: z.string(), ok: z.boolean(), detail: z.string(), at: timestamp });

/** What one host really runs of one component. Written only by that host's agent. */
export const componentStatusSchema = z.strictObject({
  phase: componentPhaseSchema,
  /** The version serving now (or being stopped). */
  version: z.string().optional(),
  /** The version being moved to, while an update is under way. */
  targetVersion: z.string().optional(),
  /** When this host began moving to `targetVersion` (its own clock; steps of an update are written paced, so later than this). */
  targetSince: timestamp.optional(),
  image: z.string().optional(),
  imageId: z.string().optional(),
  /** The config hash the serving container was made with. */
  configHash: configHash.optional(),
  /** The stored config differs from the generation the desired version names: the change waits for a rollout (`gantry deploy --config`). */
  configPending: z.boolean().optional(),
  containers: z
    .array(
      z.strictObject({
        id: z.string(),
        version: z.string(),
        role: z.enum(['serving', 'draining', 'leftover', 'starting', 'tearing-down']),
        state: z.string(),
        startedAt: timestamp.optional(),
      }),
    )
    .default([]),
  health: z
    .strictObject({
      state: z.enum(['healthy', 'unhealthy', 'unknown']),
      failing: z.array(z.string()).default([]),
      lastResults: z.array(checkResultRecordSchema).default([]),
      checkedAt: timestamp.optional(),
    })
    .optional(),
  drain: z.strictObject({ container: z.string(), connectionsLeft: z.number().int().min(0), deadline: timestamp }).optional(),
  /**
   * While any runs: containers drained and out of every frontend, being stopped (with their stop
   * timeout) and removed in the background. The update was done before they began; absent otherwise.
   */
  teardown: z.array(z.strictObject({ container: z.string(), since: timestamp, stopTimeoutMs: z.number().int().min(0) })).max(100).optional(),
  pull: pullProgressSchema.optional(),
  /** While the host's key `prepull/<component>` asks for it: the pull of a rollout's version before the rollout moves this host. */
  prepull: prepullStatusSchema.optional(),
  /** While this host's proxy answers 503 for the component (`maintenance/<component>` selects this host). */
  maintenance: maintenanceStatusSchema.optional(),
  lastError: problemSchema.optional(),
  /**
   * The desired value this status reflects (its observed generation): the key the agent acted on,
   * that key's mod revision, and the value's rollout id and setAt. A rollout counts a host done or
   * failed only from a status that observed the host key it wrote; absent: nothing said what to run.
   */
  observed: z
    .strictObject({
      key: z.string(),
      modRevision: z.number().int().min(0),
      rollout: z.string().max(200).optional(),
      setAt: timestamp.optional(),
    })
    .optional(),
  updatedAt: timestamp,
});
export type ComponentStatus = z.infer<typeof componentStatusSchema>;

/** The agent itself: its watch, and problems that are not one component's (an invalid config). */
export const agentStatusSchema = z.strictObject({
  agentVersion: z.string(),
  problems: z.array(problemSchema).default([]),
  updatedAt: timestamp,
});
export type AgentStatus = z.infer<typeof agentStatusSchema>;
