import type { CommandModule } from 'yargs';
import { lockAcquireCommand } from './lock/acquire';
import { lockReleaseCommand } from './lock/release';
import { lockStatusCommand } from './lock/status';

/** `gantry lock …`: a deploy lock, so one operator's change is not crossed by another's. */
export const lockCommand: CommandModule = {
  command: 'lock <verb>',
  describe: 'hold, release or show the deploy lock of a project or component (deploy and set-version are refused to others while it is held)',
  builder: (y) => y.command([lockAcquireCommand, lockReleaseCommand, lockStatusCommand] as CommandModule[]).demandCommand(1, 'name a verb: acquire, release or status'),
  handler: () => undefined,
};
