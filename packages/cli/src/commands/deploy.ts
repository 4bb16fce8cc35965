import { randomBytes } from 'node:crypto';
import { desiredVersionSchema, rolloutStateSchema } from '@gantry/spec';
import type { CommandModule } from 'yargs';
import { CliError } from '../cli-error';
import { ExitCode } from '../exit-codes';
import { lockGuards, lockHolder, lockWaitOption } from '../fleet/deploy-lock';
import { layoutFor, withFleet, type FleetClient } from '../fleet/fleet-client';
import { followRollout, reportOutcome } from '../rollout/live-view';
import { buildRequest, planDeploy, rolloutId } from '../rollout/request-plan';
import { withRolloutOptions, type RolloutArgs } from '../rollout/rollout-options';
import { runVerb } from '../run-verb';
import { operator } from '../fleet/operator';

type Args = RolloutArgs & {
  tag?: string;
  config?: boolean;
  batch?: string;
  canary?: number;
  'min-ready'?: number;
  'progress-deadline'?: number;
  'auto-rollback'?: boolean;
  hosts?: string;
  'on-host-lost'?: string;
  wait: boolean;
  'lock-wait': number;
};

/** Attempts when the config changes between the read and the guarded transaction. */
const ATTEMPTS = 5;

/** `--config` without `--tag`: the version the fleet runs now, which the rollout keeps. */
async function fleetVersion(fleet: FleetClient, component: string): Promise<string> {
  const stored = await fleet.read(fleet.keys.fleetDesired(fleet.project, component), desiredVersionSchema);
  if (stored.found && stored.ok) return stored.value.version;
  const why = !stored.found ? 'is absent' : `is invalid (${stored.error.problems.map((p) => p.message).join('; ')})`;
  throw new CliError(`--config rolls the fleet's current version of ${component}, but ${stored.key} ${why}: name the version with --tag`, ExitCode.invalidInput, { key: stored.key });
}

export const deployCommand: CommandModule<object, Args> = {
  command: 'deploy <project> <component>',
  describe: 'start a rolling update of a component across the fleet, and follow it (--no-wait: just start it)',
  builder: (y) =>
    withRolloutOptions(y)
      .option('tag', { type: 'string', describe: 'the image tag to roll out (with the stored config of the component)' })
      .option('config', {
        type: 'boolean',
        describe: "roll out the stored config of the component (every deploy does); without --tag, at the fleet's current version. A config change reaches hosts only this way (or with set-version), batch by batch",
      })
      .option('batch', { type: 'string', describe: 'hosts per batch: a count (2) or a percentage of the selected hosts (25%); default 1' })
      .option('canary', { type: 'number', describe: 'update this many hosts first, then pause until `gantry rollout resume`; default 0' })
      .option('min-ready', { type: 'number', describe: 'seconds a host must run the new version ready and healthy to count as done; default 0' })
      .option('progress-deadline', { type: 'number', describe: 'seconds a host may take to be done before it counts as failed; default 600' })
      .option('auto-rollback', { type: 'boolean', describe: 'on failure, move the hosts already updated back to their previous version' })
      .option('hosts', { type: 'string', describe: 'which hosts: all (default), ids "h1,h2", or labels "zone=a,tier=web"' })
      .option('on-host-lost', {
        type: 'string',
        describe: 'a host updating (or still to update) whose registration is gone (lease expired: agent dead or cut off from etcd): fail the rollout naming it (fail, default) or skip it and go on (skip)',
      })
      .option('wait', { type: 'boolean', default: true, describe: 'follow the rollout live until it finishes (--no-wait: print its id and exit)' })
      .option('lock-wait', lockWaitOption) as never,
  handler: (args) =>
    runVerb(args.json, async (reporter, signal) => {
      // Everything is checked before connecting: bad input never reaches etcd.
      const keys = layoutFor(args);
      const project = args.project;
      const component = String(args.component);
      const now = new Date();
      if (args.tag === undefined && !args.config) throw new CliError('name the version to roll out with --tag TAG, or roll out the stored config with --config', ExitCode.invalidInput);
      const flags = (tag: string) => ({
        component,
        tag,
        batch: args.batch,
        canary: args.canary,
        minReady: args['min-ready'],
        progressDeadline: args['progress-deadline'],
        autoRollback: args['auto-rollback'],
        hosts: args.hosts,
        onHostLost: args['on-host-lost'],
      });
      const meta = { id: rolloutId(now, randomBytes(2).toString('hex')), createdBy: operator(), createdAt: now };
      // With --config alone the tag is read from etcd; 'latest' stands in so the other flags are checked now.
      let request = buildRequest(flags(args.tag ?? 'latest'), meta);

      await withFleet(args, async (fleet) => {
        for (let attempt = 1; ; attempt++) {
          if (attempt > ATTEMPTS) throw new CliError(`the config of ${project} kept changing during ${ATTEMPTS} attempts; nothing was written, try again`, ExitCode.failed);
          // Refused while someone else holds the deploy lock; the request is guarded on the locks as read.
          const locks = await lockGuards(fleet, component, { holder: lockHolder(), waitS: args['lock-wait'], signal });
          const stored = await fleet.readConfigWith(component);
          if (args.tag === undefined) request = buildRequest(flags(await fleetVersion(fleet, component)), meta);
          // The config checked now is the one rolled out: the write is guarded on its revision.
          request = { ...request, configHash: stored.configHash };
          const plan = planDeploy({ keys, project, request, configModRevision: stored.modRevision });
          const result = await fleet.commit({ ...plan, guards: [...plan.guards, ...locks] });
          if (result.succeeded) {
            reporter.result(
              { ok: true, id: request.id, project, component, toVersion: request.toVersion, configHash: request.configHash, policy: request.policy, key: keys.rolloutRequest(project, component), revision: result.revision, waiting: args.wait },
              [`rollout ${request.id} of ${component} to ${request.toVersion} (config ${request.configHash}) requested (${keys.rolloutRequest(project, component)})`],
            );
            break;
          }
          // Either a rollout is active (refuse, naming it) or the config changed meanwhile (check again).
          const active = await fleet.get(keys.rolloutRequest(project, component));
          if (active) {
            let id = '(unreadable request)';
            try {
              id = String((JSON.parse(active.value) as { id?: unknown }).id ?? id);
            } catch {
              // an invalid request value: still active, still refused
            }
            const state = await fleet.read(keys.rolloutState(project, component), rolloutStateSchema);
            const stateText = state.found && state.ok && state.value.rollout === id ? state.value.state : 'pending';
            throw new CliError(
              `a rollout of ${component} is already active: ${id} (${stateText}); follow it with \`gantry rollout watch ${project} ${component}\`, or stop it with \`gantry rollout abort ${project} ${component}\``,
              ExitCode.invalidInput,
              { activeRollout: id, state: stateText, key: active.key },
            );
          }
        }
        if (!args.wait) return;
        const outcome = await followRollout(fleet, request, { json: args.json, signal });
        reportOutcome(reporter, request, outcome);
      });
    }),
};
