import { randomBytes } from 'node:crypto';
import { recordMap, rolloutStateSchema, type RolloutRequest } from '@gantry/spec';
import { CliError } from '../cli-error';
import { ExitCode } from '../exit-codes';
import { blockingLock, describeLock, lockGuards, lockHolder, readLocks } from '../fleet/deploy-lock';
import { valuesOf, type FleetClient } from '../fleet/fleet-client';
import { operator } from '../fleet/operator';
import type { Reporter } from '../reporter';
import { planLines, planRollout } from './deploy-plan';
import { followRollout, reportOutcome } from './live-view';
import { buildRequest, planDeploy, rolloutId, type DeployFlags } from './request-plan';

/**
 * What `gantry deploy` and `gantry rollout undo` share: the request written once (refused while
 * someone else holds the deploy lock or a rollout is active, guarded on the config and the locks
 * as read), then followed live; or, with `plan`, what the rollout would do, with nothing written.
 */
export interface StartRollout {
  component: string;
  /** The flags of the request, for the version to roll out. */
  flags: (tag: string) => DeployFlags;
  /** The version to roll out, decided once connected (read again on every attempt). */
  version: (fleet: FleetClient) => Promise<string>;
  lockWaitS: number;
  wait: boolean;
  plan: boolean;
  json: boolean;
  /** Words for the human line: "rollout" or "undo". */
  what: string;
  /** Why this version, once `version` decided it (undo: the rollout it undoes): fields for --json and a clause for people. */
  why?: () => { fields: Record<string, unknown>; text: string } | undefined;
}

/** Attempts when the config changes between the read and the guarded transaction. */
const ATTEMPTS = 5;

/** Checks the flags before connecting (bad input never reaches etcd): 'latest' stands in for a version read later. */
export function checkFlags(opts: Pick<StartRollout, 'flags'>): void {
  buildRequest(opts.flags('latest'), { id: 'r-0', createdBy: operator(), createdAt: new Date() });
}

export async function startRollout(fleet: FleetClient, opts: StartRollout, reporter: Reporter, signal: AbortSignal): Promise<void> {
  const { keys, project } = fleet;
  const { component } = opts;
  const now = new Date();
  const meta = { id: rolloutId(now, randomBytes(2).toString('hex')), createdBy: operator(), createdAt: now };
  if (opts.plan) return reportPlan(fleet, opts, { ...buildRequest(opts.flags(await opts.version(fleet)), meta), configHash: (await fleet.readConfigWith(component)).configHash }, reporter);

  let request: RolloutRequest;
  for (let attempt = 1; ; attempt++) {
    if (attempt > ATTEMPTS) throw new CliError(`the config of ${project} kept changing during ${ATTEMPTS} attempts; nothing was written, try again`, ExitCode.failed);
    // Refused while someone else holds the deploy lock; the request is guarded on the locks as read.
    const locks = await lockGuards(fleet, component, { holder: lockHolder(), waitS: opts.lockWaitS, signal });
    const stored = await fleet.readConfigWith(component);
    // The config checked now is the one rolled out: the write is guarded on its revision.
    request = { ...buildRequest(opts.flags(await opts.version(fleet)), meta), configHash: stored.configHash };
    const plan = planDeploy({ keys, project, request, configModRevision: stored.modRevision });
    const result = await fleet.commit({ ...plan, guards: [...plan.guards, ...locks] });
    if (result.succeeded) {
      const why = opts.why?.();
      reporter.result(
        { ok: true, id: request.id, project, component, toVersion: request.toVersion, configHash: request.configHash, policy: request.policy, key: keys.rolloutRequest(project, component), revision: result.revision, waiting: opts.wait, ...why?.fields },
        [`${opts.what} ${request.id} of ${component} to ${request.toVersion} (config ${request.configHash}) requested (${keys.rolloutRequest(project, component)})${why ? `: ${why.text}` : ''}`],
      );
      break;
    }
    // Either a rollout is active (refuse, naming it) or the config changed meanwhile (check again).
    const active = await activeRollout(fleet, component);
    if (active) {
      throw new CliError(
        `a rollout of ${component} is already active: ${active.text}; follow it with \`gantry rollout watch ${project} ${component}\`, or stop it with \`gantry rollout abort ${project} ${component}\``,
        ExitCode.invalidInput,
        { activeRollout: active.id, state: active.state, key: active.key },
      );
    }
  }
  if (!opts.wait) return;
  const outcome = await followRollout(fleet, request, { json: opts.json, signal });
  reportOutcome(reporter, request, outcome);
}

/** The component's active rollout, if a request is stored: its id and state ("pending" before the coordinator's first step). */
async function activeRollout(fleet: FleetClient, component: string): Promise<{ id: string; state: string; text: string; key: string } | undefined> {
  const active = await fleet.get(fleet.keys.rolloutRequest(fleet.project, component));
  if (!active) return undefined;
  let id = '(unreadable request)';
  try {
    id = String((JSON.parse(active.value) as { id?: unknown }).id ?? id);
  } catch {
    // an invalid request value: still active, still refused
  }
  const state = await fleet.read(fleet.keys.rolloutState(fleet.project, component), rolloutStateSchema);
  const stateText = state.found && state.ok && state.value.rollout === id ? state.value.state : 'pending';
  return { id, state: stateText, text: `${id} (${stateText})`, key: active.key };
}

/** `--plan`: the batches and what blocks them; exit 0 when nothing does, 5 when a lock does, 1 otherwise. */
async function reportPlan(fleet: FleetClient, opts: StartRollout, request: RolloutRequest, reporter: Reporter): Promise<void> {
  const blocking = blockingLock(await readLocks(fleet, opts.component), lockHolder());
  const active = await activeRollout(fleet, opts.component);
  const hosts = await fleet.readHosts();
  const plan = planRollout({
    keys: fleet.keys,
    project: fleet.project,
    request,
    hosts: recordMap(fleet.keys, valuesOf(hosts.entries)),
    ...(blocking && { lockedBy: describeLock(blocking) }),
    ...(active && { activeRollout: active.text }),
  });
  const why = opts.why?.();
  reporter.result({ ok: plan.blockers.length === 0, written: false, ...plan, ...why?.fields }, [...planLines(plan), ...(why ? ['', `${opts.what}: ${why.text}`] : [])]);
  if (plan.blockers.length) process.exitCode = blocking ? ExitCode.locked : ExitCode.failed;
}
