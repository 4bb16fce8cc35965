import type { CommandModule } from 'yargs';
import { MAX_MAINTENANCE_HOLD_SECONDS, maintenanceRecordSchema, parseHostSelector, type MaintenanceRecord } from '@gantry/spec';
import { CliError } from '../../cli-error';
import { ExitCode } from '../../exit-codes';
import { withFleet } from '../../fleet/fleet-client';
import { awaitMaintenance } from '../../fleet/maintenance-wait';
import { operator } from '../../fleet/operator';
import { runVerb } from '../../run-verb';
import { reportMaintenance } from './report';
import { waitSeconds, withMaintenanceOptions, type MaintenanceArgs } from './maintenance-options';

type Args = MaintenanceArgs & { message: string; hosts: string; hold?: number };

export const DEFAULT_MAINTENANCE_MESSAGE = 'This service is down for maintenance and will be back shortly.';

export const maintenanceOnCommand: CommandModule<object, Args> = {
  command: 'on <project> <component>',
  describe: "the component's HTTP ports answer 503 with a message on the selected hosts (its containers stay as they are; TCP ports keep serving)",
  builder: (y) =>
    withMaintenanceOptions(y)
      .option('message', { alias: 'm', type: 'string', default: DEFAULT_MAINTENANCE_MESSAGE, describe: 'what clients read (a small HTML page, or JSON when they accept application/json)' })
      .option('hosts', { type: 'string', default: 'all', describe: 'which hosts: all (default), ids "h1,h2", or labels "zone=a,tier=web"' })
      .option('hold', { type: 'number', describe: `hold each request up to SECONDS (1-${MAX_MAINTENANCE_HOLD_SECONDS}) before answering 503: an off within that time serves it` }) as never,
  handler: (args) =>
    runVerb(args.json, async (reporter, signal) => {
      const component = String(args.component);
      const waitS = waitSeconds(args.wait);
      if (waitS === undefined) throw new CliError(`--wait must be a number of seconds, 0 or more: got ${args.wait}`, ExitCode.invalidInput, { flag: 'wait' });
      const hosts = parseHostSelector(String(args.hosts));
      if (!hosts) throw new CliError(`--hosts "${args.hosts}" is not a host selector: "all", host ids "h1,h2", or labels "zone=a,tier=web"`, ExitCode.invalidInput, { flag: 'hosts' });
      const parsed = maintenanceRecordSchema.safeParse({ message: String(args.message), hosts, ...(args.hold !== undefined && { holdSeconds: args.hold }), since: new Date().toISOString(), by: operator() });
      if (!parsed.success) {
        const problems = parsed.error.issues.map((i) => `${i.path[0] === 'holdSeconds' ? '--hold' : `--${String(i.path[0] ?? 'message')}`}: ${i.message}`);
        throw new CliError(`not a maintenance to turn on: ${problems.join('; ')}`, ExitCode.invalidInput, { problems });
      }
      const record: MaintenanceRecord = parsed.data;
      await withFleet(args, async (fleet) => {
        await fleet.readConfigWith(component); // an unknown component is refused before anything is written
        const key = fleet.keys.maintenance(fleet.project, component);
        const revision = await fleet.put(key, JSON.stringify(record));
        const progress = await awaitMaintenance(fleet, component, record, waitS, signal);
        reportMaintenance(reporter, { project: fleet.project, component, key, revision, record, progress, waitS, on: true });
      });
    }),
};
