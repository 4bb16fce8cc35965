import type { CommandModule } from 'yargs';
import { parseRecord, valueOf } from '@gantry/spec';
import { withFleet } from '../../fleet/fleet-client';
import { awaitMaintenance } from '../../fleet/maintenance-wait';
import { describeMaintenanceRow } from '../../fleet/maintenance-progress';
import { withFleetOptions, type FleetArgs } from '../../fleet/fleet-options';
import { runVerb } from '../../run-verb';

export const maintenanceStatusCommand: CommandModule<object, FleetArgs & { component: string }> = {
  command: 'status <project> <component>',
  describe: 'whether the component is in maintenance, and what each registered host answers',
  builder: (y) => withFleetOptions(y).positional('project', { type: 'string' }).positional('component', { type: 'string', describe: 'the component' }) as never,
  handler: (args) =>
    runVerb(args.json, async (reporter, signal) => {
      const component = String(args.component);
      await withFleet(args, async (fleet) => {
        const key = fleet.keys.maintenance(fleet.project, component);
        const stored = await fleet.get(key);
        const parsed = stored && parseRecord(fleet.keys, key, stored.value);
        const record = valueOf(parsed, 'maintenance');
        const problem = parsed?.problem;
        const { rows } = await awaitMaintenance(fleet, component, record, 0, signal);
        const head = problem
          ? `${key} holds an invalid value (${problem}): hosts keep answering as they did; fix it or \`gantry maintenance off\``
          : record
            ? `in maintenance since ${record.since} by ${record.by}: "${record.message}"${record.holdSeconds ? ` (requests held ${record.holdSeconds} s first)` : ''}`
            : `not in maintenance: ${component}`;
        reporter.result({ project: fleet.project, component, key, on: record !== undefined, ...(record && { maintenance: record }), ...(problem && { problem }), hosts: rows }, [head, ...rows.map(describeMaintenanceRow)]);
      });
    }),
};
