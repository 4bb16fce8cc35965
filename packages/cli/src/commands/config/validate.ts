import type { CommandModule } from 'yargs';
import { withJsonOption } from '../../fleet/fleet-options';
import { loadConfigFile } from '../../load-config';
import { runVerb } from '../../run-verb';

type Args = { file: string; json: boolean };

export const configValidateCommand: CommandModule<object, Args> = {
  command: 'validate <file>',
  describe: 'check a config file (every problem at once, with its path); needs no etcd',
  builder: (y) => withJsonOption(y).positional('file', { type: 'string', demandOption: true, describe: "the project's config file (JSON)" }) as never,
  handler: (args) =>
    runVerb(args.json, async (reporter) => {
      const config = loadConfigFile(args.file);
      const names = config.components.map((c) => c.name);
      reporter.result({ ok: true, file: args.file, components: names }, [`${args.file} is valid: ${names.length} component(s): ${names.join(', ')}`]);
    }),
};
