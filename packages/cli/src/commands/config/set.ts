import type { CommandModule } from 'yargs';
import { readConfigFile, setconfigOption } from '../../load-config';
import { withFleet } from '../../fleet/fleet-client';
import { withFleetOptions, type FleetArgs } from '../../fleet/fleet-options';
import { runVerb } from '../../run-verb';

type Args = FleetArgs & { file: string; setconfig: string[] };

export const configSetCommand: CommandModule<object, Args> = {
  command: 'set <file>',
  describe: "validate a config file and store it as the project's config; nothing is written if it is invalid",
  builder: (y) => withFleetOptions(y).positional('file', { type: 'string', demandOption: true, describe: "the project's config file (JSON)" }).option('setconfig', setconfigOption) as never,
  handler: (args) =>
    runVerb(args.json, async (reporter) => {
      // Validate before connecting: an invalid file never needs etcd.
      const { config, canonical } = readConfigFile(args.file, args.setconfig);
      await withFleet(args, async (fleet) => {
        const key = fleet.keys.config(fleet.project);
        const previous = await fleet.get(key);
        const names = config.components.map((c) => c.name);
        if (previous?.value === canonical) {
          reporter.result({ ok: true, project: fleet.project, key, changed: false, revision: previous.modRevision, components: names }, [`unchanged ${key} already holds this config (${names.join(', ')})`]);
          return;
        }
        const revision = await fleet.put(key, canonical);
        reporter.result({ ok: true, project: fleet.project, key, changed: true, revision, components: names }, [
          `stored   config of ${fleet.project} at ${key} (revision ${revision}): ${names.length} component(s): ${names.join(', ')}`,
        ]);
      });
    }),
};
