import { z } from 'zod';
import { identifier } from './primitives';

/**
 * A rolling update across the fleet, as three records with one writer each (spec and status
 * apart, as everywhere in the contract):
 *   request  — what the operator asked for (written once by `gantry deploy`, only if no rollout is active)
 *   control  — the operator's latest instruction: pause, resume, abort, rollback
 *   state    — how it is going, written only by the elected coordinator, fenced on its election key
 * A finished rollout moves to history as { request, state }.
 */
const timestamp = z.iso.datetime({ offset: true });
const tag = z.string().regex(/^[\w][\w.-]{0,127}$/, 'a Docker tag');

/** Hosts per batch: a count, or a percentage of the selected hosts (rounded up, at least 1). */
export const batchSizeSchema = z.union([
  z.strictObject({ count: z.number().int().min(1) }),
  z.strictObject({ percent: z.number().gt(0).max(100) }),
]);
export type BatchSize = z.infer<typeof batchSizeSchema>;

/** `--batch 2` or `--batch 25%`. */
export function parseBatchSize(text: string): BatchSize | undefined {
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text);
  if (percent) {
    const p = Number(percent[1]);
    return p > 0 && p <= 100 ? { percent: p } : undefined;
  }
  return /^[1-9]\d*$/.test(text) ? { count: Number(text) } : undefined;
}

/** How many hosts a batch holds out of `total`. */
export function batchCount(size: BatchSize, total: number): number {
  return 'count' in size ? Math.min(size.count, Math.max(total, 1)) : Math.max(1, Math.ceil((size.percent / 100) * total));
}

/**
 * The selected hosts (in rollout order) cut into batches: the canary hosts first, as batch 0 of their
 * own, then `batch`-sized batches of the rest. The coordinator's first step and `deploy --plan`
 * both cut them here, so a plan shows the batches the rollout will run.
 */
export function assignBatches(selected: readonly string[], policy: { canary: number; batch: BatchSize }): { hosts: { id: string; batch: number }[]; batches: number } {
  const canary = Math.min(policy.canary, selected.length);
  const size = batchCount(policy.batch, selected.length);
  const hosts = selected.map((id, i) => ({ id, batch: canary > 0 ? (i < canary ? 0 : 1 + Math.floor((i - canary) / size)) : Math.floor(i / size) }));
  return { hosts, batches: (canary > 0 ? 1 : 0) + Math.ceil((selected.length - canary) / size) };
}

/**
 * Which hosts take part: every registered host, or those named, or those whose labels match.
 * Text form: `all`, `h1,h2`, `zone=a`, `zone=a,tier=web` (labels must all match).
 */
export const hostSelectorSchema = z.union([
  z.strictObject({ all: z.literal(true) }),
  z.strictObject({ ids: z.array(identifier).min(1) }),
  z.strictObject({ labels: z.record(z.string(), z.string()).refine((l) => Object.keys(l).length > 0, 'at least one label') }),
]);
export type HostSelector = z.infer<typeof hostSelectorSchema>;

export function parseHostSelector(text: string): HostSelector | undefined {
  if (text === 'all') return { all: true };
  const parts = text.split(',').map((p) => p.trim()).filter(Boolean);
  if (parts.length === 0) return undefined;
  if (parts.every((p) => p.includes('='))) {
    const labels: Record<string, string> = {};
    for (const p of parts) {
      const [k, ...v] = p.split('=');
      if (!k) return undefined;
      labels[k] = v.join('=');
    }
    return { labels };
  }
  if (parts.some((p) => p.includes('='))) return undefined;
  return identifier.array().safeParse(parts).success ? { ids: parts } : undefined;
}

export function selectsHost(selector: HostSelector, host: { hostId: string; labels: Record<string, string> }): boolean {
  if ('all' in selector) return true;
  if ('ids' in selector) return selector.ids.includes(host.hostId);
  return Object.entries(selector.labels).every(([k, v]) => host.labels[k] === v);
}

export const rolloutPolicySchema = z.strictObject({
  batch: batchSizeSchema.default({ count: 1 }),
  /** Hosts updated first, then the rollout pauses until resumed. 0: no canary. */
  canary: z.number().int().min(0).default(0),
  /** A host counts as done once it has run the new version, ready and healthy, this long. */
  minReadySeconds: z.number().min(0).max(86_400).default(0),
  /** A host that is not done this long after it was told to update has failed. */
  progressDeadlineSeconds: z.number().gt(0).max(86_400).default(600),
  /** On failure, move the hosts already updated back to their previous version. */
  autoRollback: z.boolean().default(false),
  hosts: hostSelectorSchema.default({ all: true }),
  /**
   * A selected host that loses its registration (its lease expired: the agent died, or is cut off
   * from etcd) while updating or still to update: `fail` fails the rollout naming the host (and
   * rolls back with `autoRollback`); `skip` marks it `skipped` and goes on with the others.
   * Absent (requests written before this field): `fail`.
   */
  onHostLost: z.enum(['fail', 'skip']).default('fail'),
  /**
   * Before the first batch, every selected host pulls the new version's image (the `preflight`
   * state): a tag that does not exist or a registry that refuses fails the rollout before any host
   * is moved, and the hosts then start at once. Absent (requests written before this field): true.
   */
  preflight: z.boolean().default(true),
});
export type RolloutPolicy = z.infer<typeof rolloutPolicySchema>;

/** What the operator asked for. Present while the rollout is active: at most one per component. */
export const rolloutRequestSchema = z.strictObject({
  id: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, 'a rollout id'),
  component: identifier,
  toVersion: tag,
  /** The config generation to roll out with the version (the component's config hash when deployed); see DesiredVersion. */
  configHash: z.string().regex(/^[a-f0-9]{12}$/, 'a config hash: 12 hex digits').optional(),
  policy: rolloutPolicySchema,
  createdBy: z.string().min(1).max(200),
  createdAt: timestamp,
});
export type RolloutRequest = z.infer<typeof rolloutRequestSchema>;

export const rolloutControlSchema = z.strictObject({
  /** For the rollout with this id only: an instruction never outlives its rollout. */
  rollout: z.string(),
  action: z.enum(['pause', 'resume', 'abort', 'rollback']),
  by: z.string().min(1).max(200),
  at: timestamp,
});
export type RolloutControl = z.infer<typeof rolloutControlSchema>;

export const rolloutHostResultSchema = z.enum(['pending', 'updating', 'ready', 'done', 'failed', 'rolling-back', 'rolled-back', 'skipped']);

export const rolloutStateSchema = z.strictObject({
  rollout: z.string(),
  /**
   * `preflight`: every selected host pulls the new image; no host is moved yet.
   * Final states: succeeded, failed, rolled-back, aborted (by a control), cancelled (its request
   * was deleted by hand: the coordinator removed the host pins it wrote).
   */
  state: z.enum(['pending', 'preflight', 'running', 'paused', 'succeeded', 'failed', 'rolling-back', 'rolled-back', 'aborted', 'cancelled']),
  /** The version rolled out (the request's), kept so a rollout whose request is gone can still be recorded. */
  toVersion: tag.optional(),
  /** Why it is paused: after the canary hosts, or by the operator. */
  pausedBy: z.enum(['canary', 'operator']).optional(),
  hosts: z
    .array(
      z.strictObject({
        id: identifier,
        batch: z.number().int().min(0),
        /** The version it ran before; what a rollback returns it to (none: it ran nothing). */
        fromVersion: z.string().optional(),
        result: rolloutHostResultSchema,
        /** The preflight's verdict on this host: it pulled the new image, or could not (then `error` says why). */
        prepull: z.enum(['pulled', 'failed']).optional(),
        /**
         * Display only, written by whichever coordinator saw it: no decision compares these (or any
         * timestamp written on another host); minReady and deadlines run on the coordinator's own clock.
         */
        startedAt: timestamp.optional(),
        readySince: timestamp.optional(),
        /** When the rollback of this host started (display only). */
        rollbackStartedAt: timestamp.optional(),
        finishedAt: timestamp.optional(),
        error: z.string().optional(),
      }),
    )
    .default([]),
  batches: z.number().int().min(0).default(0),
  /** The batch under way (0-based); equals `batches` once every batch is done. */
  currentBatch: z.number().int().min(0).default(0),
  message: z.string().optional(),
  /** The coordinator that wrote this. */
  coordinator: z.string().optional(),
  startedAt: timestamp.optional(),
  finishedAt: timestamp.optional(),
  updatedAt: timestamp,
});
export type RolloutState = z.infer<typeof rolloutStateSchema>;

/** The states a rollout ends in; it is then in history, and its request, control and state keys are gone. */
export const FINAL_ROLLOUT_STATES: readonly RolloutState['state'][] = ['succeeded', 'failed', 'rolled-back', 'aborted', 'cancelled'];

/** Whether a rollout in `state` is over. */
export const isFinalRolloutState = (state: RolloutState['state']): boolean => FINAL_ROLLOUT_STATES.includes(state);

/** How many finished rollouts of a component the coordinator keeps in history (older ones are deleted). */
export const DEFAULT_HISTORY_LIMIT = 50;

export const rolloutHistoryEntrySchema = z.strictObject({ request: rolloutRequestSchema, state: rolloutStateSchema });
export type RolloutHistoryEntry = z.infer<typeof rolloutHistoryEntrySchema>;

/** The coordinator election record, bound to the elected agent's lease. */
export const coordinatorRecordSchema = z.strictObject({ hostId: identifier, since: timestamp, leaseId: z.string() });
export type CoordinatorRecord = z.infer<typeof coordinatorRecordSchema>;
