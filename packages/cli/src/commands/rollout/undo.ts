import type { CommandModule } from 'yargs';
import { CliError } from '../../cli-error';
import { ExitCode } from '../../exit-codes';
import { withFleet, type FleetClient } from '../../fleet/fleet-client';
import { readRollout } from '../../rollout/read-rollout';
import { policyFlags, withStartOptions, type StartArgs } from '../../rollout/rollout-options';
import { checkFlags, startRollout } from '../../rollout/start-rollout';
import { undoTarget, type UndoTarget } from '../../rollout/undo-target';
import { runVerb } from '../../run-verb';

type Args = StartArgs & { to?: string };

/**
 * `gantry rollout undo`: a normal rollout (batches, deadlines, locks, --plan) back to the version
 * before the last successful rollout, or to `--to`. It rolls the version with the stored config,
 * like every rollout: a config change is undone by storing the old config (`config set`) first.
 */
export const undoCommand: CommandModule<object, Args> = {
  command: 'undo <project> <component>',
  describe: 'roll the component back, as a normal rollout, to the version the hosts ran before its last successful rollout (or --to VERSION)',
  builder: (y) => withStartOptions(y).option('to', { type: 'string', describe: 'the version to go back to (default: the one before the last successful rollout, from history)' }) as never,
  handler: (args) =>
    runVerb(args.json, async (reporter, signal) => {
      const component = String(args.component);
      let target: Extract<UndoTarget, { ok: true }> | undefined;
      const version = async (fleet: FleetClient): Promise<string> => {
        if (args.to !== undefined) return args.to;
        const found = undoTarget((await readRollout(fleet, component)).history.values());
        if (!found.ok) throw new CliError(`nothing to undo for ${component} of ${fleet.project}: ${found.reason}`, ExitCode.invalidInput, { history: fleet.keys.rolloutHistory(fleet.project, component) });
        target = found;
        return found.version;
      };
      const rollout = {
        component,
        flags: policyFlags(args),
        version,
        lockWaitS: args['lock-wait'],
        wait: args.wait,
        plan: Boolean(args.plan),
        json: args.json,
        what: 'undo',
        why: () =>
          target && {
            fields: { undoes: { rollout: target.rollout, toVersion: target.toVersion, fromVersion: target.version } },
            text: `back to ${target.version}, the version before rollout ${target.rollout} (${target.version} → ${target.toVersion})`,
          },
      };
      checkFlags(rollout);
      await withFleet(args, (fleet) => startRollout(fleet, rollout, reporter, signal));
    }),
};
