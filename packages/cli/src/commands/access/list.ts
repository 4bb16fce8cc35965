import type { CommandModule } from 'yargs';
import { grantRange, listAccess } from '../../access/access-admin';
import { withAccessOptions, type AccessArgs } from '../../access/access-options';
import { withFleet } from '../../fleet/fleet-client';
import { runVerb } from '../../run-verb';

export const accessListCommand: CommandModule<object, AccessArgs> = {
  command: 'list <project>',
  describe: "the project's roles, what each may read and write, and who holds it",
  builder: (y) => withAccessOptions(y) as never,
  handler: (args) =>
    runVerb(args.json, async (reporter) => {
      await withFleet(args, async (fleet) => {
        const roles = await listAccess(fleet);
        const lines = roles.length === 0 ? [`no roles for project ${fleet.project} (create them with \`gantry access init ${fleet.project}\`)`] : [];
        for (const r of roles) {
          lines.push(`${r.role}  users: ${r.users.length ? r.users.join(', ') : '(none)'}`);
          for (const g of r.grants) lines.push(`  ${g.permission.padEnd(9)} ${grantRange(g)}`);
        }
        reporter.result({ project: fleet.project, roles: roles.map((r) => ({ ...r, grants: r.grants.map((g) => ({ ...g, range: grantRange(g) })) })) }, lines);
      });
    }),
};
