import yargs from 'yargs';
import { accessCommand } from './commands/access';
import { configCommand } from './commands/config';
import { deployCommand } from './commands/deploy';
import { hostsCommand } from './commands/hosts';
import { localCommand } from './commands/local';
import { lockCommand } from './commands/lock';
import { maintenanceCommand } from './commands/maintenance';
import { rolloutCommand } from './commands/rollout';
import { setVersionCommand } from './commands/set-version';
import { statusCommand } from './commands/status';
import { ExitCode } from './exit-codes';

/** gantry's entry point: `bin/gantry.js` calls this with the command line. */
export async function main(argv: string[]): Promise<void> {
  await yargs(argv)
    .scriptName('gantry')
    .usage('$0 <command> [options]')
    .command(localCommand)
    .command(configCommand)
    .command(hostsCommand)
    .command(setVersionCommand)
    .command(statusCommand)
    .command(deployCommand)
    .command(rolloutCommand)
    .command(accessCommand)
    .command(lockCommand)
    .command(maintenanceCommand)
    .demandCommand(1, 'name a command')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(require('../package.json').version)
    .fail((message, err) => {
      // Usage errors come here; failures of the work itself are handled by runVerb.
      if (err) throw err;
      process.stderr.write(`error: ${message}\nrun with --help for usage\n`);
      process.exit(ExitCode.invalidInput);
    })
    .wrap(Math.min(120, process.stdout.columns || 100))
    .parseAsync();
}
