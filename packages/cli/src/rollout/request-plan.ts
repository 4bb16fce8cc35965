import {
  identifier,
  parseBatchSize,
  parseHostSelector,
  parseValue,
  rolloutControlSchema,
  rolloutRequestSchema,
  type KeyLayout,
  type RolloutControl,
  type RolloutRequest,
} from '@gantry/spec';
import { CliError } from '../cli-error';
import { ExitCode } from '../exit-codes';
import type { TxnPlan } from '../fleet/set-version-plan';

/**
 * The pure half of `gantry deploy` and `gantry rollout pause|resume|abort|rollback`: the flags
 * turned into a validated RolloutRequest / RolloutControl, and the guarded transactions that write them.
 */

export interface DeployFlags {
  component: string;
  tag: string;
  batch?: string;
  canary?: number;
  minReady?: number;
  progressDeadline?: number;
  autoRollback?: boolean;
  hosts?: string;
  /** `fail` or `skip`: what a host that loses its registration mid-rollout does to the rollout. */
  onHostLost?: string;
  /** false (`--no-preflight`): no pre-pull before the first batch. Absent: the policy's default (true). */
  preflight?: boolean;
}

const invalid = (message: string, details: Record<string, unknown> = {}) => new CliError(message, ExitCode.invalidInput, details);

/** A rollout id: `r-<yyyymmddHHMMss>-<4 hex>` (UTC). */
export function rolloutId(now: Date, hex4: string): string {
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `r-${stamp}-${hex4}`;
}

const isNumber = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n);

/** Validates every flag (each problem names its flag, exit 2) and builds the request to store. */
export function buildRequest(flags: DeployFlags, meta: { id: string; createdBy: string; createdAt: Date }): RolloutRequest {
  if (!identifier.safeParse(flags.component).success) throw invalid(`invalid component "${flags.component}": letters, digits, "_", "." and "-", starting with a letter or digit`);
  if (!/^[\w][\w.-]{0,127}$/.test(flags.tag)) {
    throw invalid(`--tag "${flags.tag}" is not a valid Docker tag: letters, digits, "_", "." and "-", not starting with "." or "-", at most 128 characters`, { flag: 'tag' });
  }
  const policy: Record<string, unknown> = {};
  if (flags.batch !== undefined) {
    const batch = parseBatchSize(String(flags.batch));
    if (!batch) throw invalid(`--batch "${flags.batch}" is not a batch size: a count of hosts (e.g. 2) or a percentage (e.g. 25%)`, { flag: 'batch' });
    policy.batch = batch;
  }
  if (flags.canary !== undefined) {
    if (!isNumber(flags.canary) || !Number.isInteger(flags.canary) || flags.canary < 0) throw invalid(`--canary must be a whole number of hosts, 0 or more: got ${flags.canary}`, { flag: 'canary' });
    policy.canary = flags.canary;
  }
  if (flags.minReady !== undefined) {
    if (!isNumber(flags.minReady) || flags.minReady < 0 || flags.minReady > 86_400) throw invalid(`--min-ready must be seconds between 0 and 86400: got ${flags.minReady}`, { flag: 'min-ready' });
    policy.minReadySeconds = flags.minReady;
  }
  if (flags.progressDeadline !== undefined) {
    if (!isNumber(flags.progressDeadline) || flags.progressDeadline <= 0 || flags.progressDeadline > 86_400) {
      throw invalid(`--progress-deadline must be seconds above 0, at most 86400: got ${flags.progressDeadline}`, { flag: 'progress-deadline' });
    }
    policy.progressDeadlineSeconds = flags.progressDeadline;
  }
  if (flags.autoRollback !== undefined) policy.autoRollback = flags.autoRollback;
  if (flags.hosts !== undefined) {
    const hosts = parseHostSelector(String(flags.hosts));
    if (!hosts) throw invalid(`--hosts "${flags.hosts}" is not a host selector: "all", host ids "h1,h2", or labels "zone=a,tier=web"`, { flag: 'hosts' });
    policy.hosts = hosts;
  }
  if (flags.onHostLost !== undefined) {
    if (flags.onHostLost !== 'fail' && flags.onHostLost !== 'skip') {
      throw invalid(`--on-host-lost "${flags.onHostLost}" is not a policy: fail (the rollout fails, naming the host) or skip (the host is skipped, the others go on)`, { flag: 'on-host-lost' });
    }
    policy.onHostLost = flags.onHostLost;
  }
  if (flags.preflight !== undefined) policy.preflight = flags.preflight;
  const raw = { id: meta.id, component: flags.component, toVersion: flags.tag, policy, createdBy: meta.createdBy, createdAt: meta.createdAt.toISOString() };
  const parsed = parseValue(rolloutRequestSchema, raw, 'the rollout request');
  if (!parsed.ok) throw invalid(parsed.error.problems.map((p) => `${p.path}: ${p.message}`).join('; '), { problems: parsed.error.problems });
  return parsed.value;
}

/**
 * The deploy transaction: only if no request exists for the component (mod revision 0) and the
 * config the component was checked against is unchanged, write the request and delete whatever
 * control or state a previous rollout left behind.
 */
export function planDeploy(input: { keys: KeyLayout; project: string; request: RolloutRequest; configModRevision: string }): TxnPlan {
  const { keys, project, request } = input;
  const component = request.component;
  return {
    guards: [
      { key: keys.rolloutRequest(project, component), modRevision: '0' },
      { key: keys.config(project), modRevision: input.configModRevision },
    ],
    puts: [{ key: keys.rolloutRequest(project, component), value: JSON.stringify(request) }],
    deletes: [keys.rolloutControl(project, component), keys.rolloutState(project, component)],
  };
}

export type ControlAction = RolloutControl['action'];

export function controlValue(input: { rollout: string; action: ControlAction; by: string; at: Date }): RolloutControl {
  const parsed = parseValue(rolloutControlSchema, { rollout: input.rollout, action: input.action, by: input.by, at: input.at.toISOString() }, 'the rollout control');
  if (!parsed.ok) throw invalid(parsed.error.problems.map((p) => `${p.path}: ${p.message}`).join('; '));
  return parsed.value;
}

/** The control transaction: only while the request read (the active rollout) is still the same one. */
export function planControl(input: { keys: KeyLayout; project: string; component: string; control: RolloutControl; requestModRevision: string }): TxnPlan {
  const { keys, project, component } = input;
  return {
    guards: [{ key: keys.rolloutRequest(project, component), modRevision: input.requestModRevision }],
    puts: [{ key: keys.rolloutControl(project, component), value: JSON.stringify(input.control) }],
    deletes: [],
  };
}
