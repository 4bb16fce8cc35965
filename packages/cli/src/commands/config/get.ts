import type { CommandModule } from 'yargs';
import { redactConfigJson } from '@gantry/spec';
import { withFleet } from '../../fleet/fleet-client';
import { withFleetOptions, type FleetArgs } from '../../fleet/fleet-options';
import { runVerb } from '../../run-verb';

export const configGetCommand: CommandModule<object, FleetArgs> = {
  command: 'get',
  describe: "print the project's stored config, values marked secret: true as *** (warns on stderr when it is invalid)",
  builder: (y) => withFleetOptions(y) as never,
  handler: (args) =>
    runVerb(args.json, async (reporter) => {
      await withFleet(args, async (fleet) => {
        const stored = await fleet.readConfig();
        const problems = stored.ok ? [] : stored.error.problems;
        let config: unknown = null;
        try {
          // Secret values never leave through the CLI, valid config or not (--json too).
          config = redactConfigJson(JSON.parse(stored.text));
        } catch {
          // not JSON: shown as text, reported as a problem below
        }
        if (!reporter.json && !stored.ok) process.stderr.write(`warning: the stored config is invalid; agents will not apply it:\n${stored.error.message}\n`);
        reporter.result({ project: fleet.project, key: stored.key, revision: stored.modRevision, valid: stored.ok, problems, config, ...(config === null ? { text: stored.text } : {}) }, [config === null ? stored.text.replace(/\n$/, '') : JSON.stringify(config, null, 2)]);
      });
    }),
};
