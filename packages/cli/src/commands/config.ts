import type { CommandModule } from 'yargs';
import { configGetCommand } from './config/get';
import { configSetCommand } from './config/set';
import { configValidateCommand } from './config/validate';

/** `gantry config …`: the project's config in etcd, which every host's agent follows. */
export const configCommand: CommandModule = {
  command: 'config <verb>',
  describe: "store, show or check the project's config (in etcd)",
  builder: (y) => y.command([configSetCommand, configGetCommand, configValidateCommand] as CommandModule[]).demandCommand(1, 'name a verb: set, get or validate'),
  handler: () => undefined,
};
