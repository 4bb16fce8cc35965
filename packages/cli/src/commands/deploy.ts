import { desiredVersionSchema } from '@gantry/spec';
import type { CommandModule } from 'yargs';
import { CliError } from '../cli-error';
import { ExitCode } from '../exit-codes';
import { withFleet, type FleetClient } from '../fleet/fleet-client';
import { policyFlags, withStartOptions, type StartArgs } from '../rollout/rollout-options';
import { checkFlags, startRollout } from '../rollout/start-rollout';
import { runVerb } from '../run-verb';

type Args = StartArgs & { tag?: string; config?: boolean };

/** `--config` without `--tag`: the version the fleet runs now, which the rollout keeps. */
async function fleetVersion(fleet: FleetClient, component: string): Promise<string> {
  const stored = await fleet.read(fleet.keys.fleetDesired(fleet.project, component), desiredVersionSchema);
  if (stored.found && stored.ok) return stored.value.version;
  const why = !stored.found ? 'is absent' : `is invalid (${stored.error.problems.map((p) => p.message).join('; ')})`;
  throw new CliError(`--config rolls the fleet's current version of ${component}, but ${stored.key} ${why}: name the version with --tag`, ExitCode.invalidInput, { key: stored.key });
}

export const deployCommand: CommandModule<object, Args> = {
  command: 'deploy <project> <component>',
  describe: 'start a rolling update of a component across the fleet, and follow it (--no-wait: just start it; --plan: only show what it would do)',
  builder: (y) =>
    withStartOptions(y)
      .option('tag', { type: 'string', describe: 'the image tag to roll out (with the stored config of the component)' })
      .option('config', {
        type: 'boolean',
        describe: "roll out the stored config of the component (every deploy does); without --tag, at the fleet's current version. A config change reaches hosts only this way (or with set-version), batch by batch",
      }) as never,
  handler: (args) =>
    runVerb(args.json, async (reporter, signal) => {
      // Everything is checked before connecting: bad input never reaches etcd.
      const component = String(args.component);
      if (args.tag === undefined && !args.config) throw new CliError('name the version to roll out with --tag TAG, or roll out the stored config with --config', ExitCode.invalidInput);
      const rollout = {
        component,
        flags: policyFlags(args),
        // With --config alone, the fleet's current version (read on every attempt).
        version: (fleet: FleetClient) => (args.tag !== undefined ? Promise.resolve(args.tag) : fleetVersion(fleet, component)),
        lockWaitS: args['lock-wait'],
        wait: args.wait,
        plan: Boolean(args.plan),
        json: args.json,
        what: 'rollout',
      };
      checkFlags(rollout);
      await withFleet(args, (fleet) => startRollout(fleet, rollout, reporter, signal));
    }),
};
