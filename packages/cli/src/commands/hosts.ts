import type { CommandModule } from 'yargs';
import { withFleet } from '../fleet/fleet-client';
import { withFleetOptions, type FleetArgs } from '../fleet/fleet-options';
import { hostCells, HOSTS_HEADER } from '../fleet/hosts-rows';
import { runVerb } from '../run-verb';
import { renderTable } from '../table';

export const hostsCommand: CommandModule<object, FleetArgs> = {
  command: 'hosts',
  describe: "the project's registered hosts (live agents): address, labels, agent version, uptime",
  builder: (y) => withFleetOptions(y) as never,
  handler: (args) =>
    runVerb(args.json, async (reporter) => {
      await withFleet(args, async (fleet) => {
        const { hosts, invalid } = await fleet.listHosts();
        const now = new Date();
        const human = hosts.length ? [renderTable(HOSTS_HEADER, hosts.map((h) => hostCells(h, now)))] : [`no hosts registered for project ${fleet.project}`];
        reporter.result({ project: fleet.project, hosts, invalid }, human);
        if (!reporter.json) {
          for (const bad of invalid) {
            process.stderr.write(`warning: host ${bad.host}: ${bad.problem} (key ${bad.key})\n`);
          }
        }
      });
    }),
};
