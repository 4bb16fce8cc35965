import type { CommandModule } from 'yargs';
import { maintenanceOffCommand } from './maintenance/off';
import { maintenanceOnCommand } from './maintenance/on';
import { maintenanceStatusCommand } from './maintenance/status';

/** `gantry maintenance …`: a component's HTTP frontends answer 503 with a message while its containers stay. */
export const maintenanceCommand: CommandModule = {
  command: 'maintenance <verb>',
  describe: "put a component's HTTP ports in maintenance (503 with a message) on some or all hosts, or take it out",
  builder: (y) => y.command([maintenanceOnCommand, maintenanceOffCommand, maintenanceStatusCommand] as CommandModule[]).demandCommand(1, 'name a verb: on, off or status'),
  handler: () => undefined,
};
