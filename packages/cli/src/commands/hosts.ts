import type { CommandModule } from 'yargs';
import { withFleet } from '../fleet/fleet-client';
import { withFleetOptions, type FleetArgs } from '../fleet/fleet-options';
import { goneCells, GONE_HEADER, hostCells, HOSTS_HEADER } from '../fleet/hosts-rows';
import { runVerb } from '../run-verb';
import { renderTable } from '../table';

export const hostsCommand: CommandModule<object, FleetArgs> = {
  command: 'hosts',
  describe: "the project's registered hosts (live agents): address, labels, agent version, uptime; and the hosts gone (keys left, no registration)",
  builder: (y) => withFleetOptions(y) as never,
  handler: (args) =>
    runVerb(args.json, async (reporter) => {
      await withFleet(args, async (fleet) => {
        const { hosts, invalid, gone } = await fleet.listHosts();
        const now = new Date();
        const human = hosts.length ? [renderTable(HOSTS_HEADER, hosts.map((h) => hostCells(h, now)))] : [`no hosts registered for project ${fleet.project}`];
        if (gone.length) {
          human.push('', `gone (keys left, no registration; their status is removed once gone longer than gantryd's --gone-host-retention, their pins stay):`);
          human.push(renderTable(GONE_HEADER, gone.map((g) => goneCells(g, now))));
        }
        reporter.result({ project: fleet.project, hosts, invalid, gone }, human);
        if (!reporter.json) {
          for (const bad of invalid) {
            process.stderr.write(`warning: host ${bad.host}: ${bad.problem} (key ${bad.key})\n`);
          }
        }
      });
    }),
};
