import type { CommandModule } from 'yargs';
import { roleName, type AccessKind } from '@gantry/spec';
import { reconcileRole } from '../../access/access-admin';
import { withAccessOptions, type AccessArgs } from '../../access/access-options';
import { describeSetup } from '../../access/add-user-verb';
import { withFleet } from '../../fleet/fleet-client';
import { runVerb } from '../../run-verb';

/** The roles shared by a project's users; host roles are made per host by `add-host`. */
const SHARED: AccessKind[] = ['operator', 'coordinator'];

export const accessInitCommand: CommandModule<object, AccessArgs> = {
  command: 'init <project>',
  describe: "create (or repair) the project's operator and coordinator roles",
  builder: (y) => withAccessOptions(y) as never,
  handler: (args) =>
    runVerb(args.json, async (reporter) => {
      await withFleet(args, async (fleet) => {
        const roles = [];
        for (const kind of SHARED) roles.push(await reconcileRole(fleet, roleName(fleet.project, kind), kind));
        reporter.result({ project: fleet.project, roles }, [...roles.flatMap((r) => describeSetup(r)), 'host roles are made with `gantry access add-host PROJECT HOST`']);
      });
    }),
};
