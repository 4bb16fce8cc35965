import type { CommandModule } from 'yargs';
import { CliError } from '../../cli-error';
import { ExitCode } from '../../exit-codes';
import { withFleet } from '../../fleet/fleet-client';
import { awaitMaintenance } from '../../fleet/maintenance-wait';
import { runVerb } from '../../run-verb';
import { reportMaintenance } from './report';
import { waitSeconds, withMaintenanceOptions, type MaintenanceArgs } from './maintenance-options';

export const maintenanceOffCommand: CommandModule<object, MaintenanceArgs> = {
  command: 'off <project> <component>',
  describe: 'traffic to the component reaches its containers again on every host',
  builder: (y) => withMaintenanceOptions(y) as never,
  handler: (args) =>
    runVerb(args.json, async (reporter, signal) => {
      const component = String(args.component);
      const waitS = waitSeconds(args.wait);
      if (waitS === undefined) throw new CliError(`--wait must be a number of seconds, 0 or more: got ${args.wait}`, ExitCode.invalidInput, { flag: 'wait' });
      await withFleet(args, async (fleet) => {
        const key = fleet.keys.maintenance(fleet.project, component);
        // Deleted whatever it holds (an invalid value too: hosts then serve again). Any component name
        // is accepted: a component gone from the config may have left its key behind.
        const res = await fleet.call(`deleting ${key}`, (o) => fleet.etcd.delete().key(key).options(o).exec());
        const changed = Number(res.deleted) > 0;
        const progress = await awaitMaintenance(fleet, component, undefined, waitS, signal);
        reportMaintenance(reporter, { project: fleet.project, component, key, revision: String(res.header.revision), changed, progress, waitS, on: false });
      });
    }),
};
