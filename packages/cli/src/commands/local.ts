import type { CommandModule } from 'yargs';
import { killCommand } from './local/kill';
import { listCommand } from './local/list';
import { startCommand } from './local/start';
import { stopCommand } from './local/stop';
import { updateCommand } from './local/update';

/** `gantry local …`: Gantryd's single-host commands, on this machine's Docker and HAProxy, without etcd. */
export const localCommand: CommandModule = {
  command: 'local <verb>',
  describe: 'manage a component on this host only (no etcd), as gantry.py did',
  builder: (y) => y.command([updateCommand, startCommand, stopCommand, killCommand, listCommand] as CommandModule[]).demandCommand(1, 'name a verb: update, start, stop, kill or list'),
  handler: () => undefined,
};
