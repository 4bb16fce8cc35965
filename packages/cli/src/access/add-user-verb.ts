import type { CommandModule } from 'yargs';
import { defaultUserName, identifier, roleName, type AccessKind } from '@gantry/spec';
import { CliError } from '../cli-error';
import { ExitCode } from '../exit-codes';
import { withFleet } from '../fleet/fleet-client';
import { runVerb } from '../run-verb';
import { ensureUser, readPasswordFile, reconcileRole, type RoleResult, type UserResult } from './access-admin';
import { withUserOptions, type AccessArgs } from './access-options';

/** The human lines for a role and a user that were set up. */
export function describeSetup(role: RoleResult, user?: UserResult): string[] {
  const lines = [`role ${role.role}: ${role.created ? 'created' : 'already there'}${role.granted.length ? `, ${role.granted.length} grant(s) added` : ''}${role.revoked.length ? `, ${role.revoked.length} revoked` : ''}`];
  for (const g of role.grants) lines.push(`  ${g.permission.padEnd(9)} ${g.key}${g.prefix ? '*' : ''}  (${g.why})`);
  if (user) {
    const how = user.authenticates === 'password' ? (user.passwordChanged ? 'password set from the file' : 'password') : 'client certificate only: CN must be the user name';
    lines.push(`user ${user.user}: ${user.created ? 'created' : 'already there'} (${how}); roles: ${user.roles.join(', ')}`);
  }
  return lines;
}

/**
 * `gantry access add-host|add-operator|add-coordinator`: one verb shape for the three kinds of user;
 * `name` is the host id or the person's / coordinator's name, which also names a host's role.
 */
export function addUserVerb(kind: Exclude<AccessKind, never>, nameArg: string, describe: string): CommandModule<object, AccessArgs> {
  return {
    command: `add-${kind} <project> <${nameArg}>`,
    describe,
    builder: (y) => withUserOptions(y.positional(nameArg, { type: 'string', demandOption: true }), defaultUserName('PROJECT', kind, nameArg.toUpperCase())) as never,
    handler: (args) =>
      runVerb(args.json, async (reporter) => {
        const name = String(args[nameArg]);
        // A name makes a key (a host's) or a user name: the same rule as every name in the layout, so "/" never splits one.
        const valid = identifier.safeParse(name);
        if (!valid.success) throw new CliError(`invalid ${nameArg} "${name}": ${valid.error.issues[0]?.message ?? 'not a valid name'}`, ExitCode.invalidInput);
        if (args['password-file'] === undefined && !args['cert-only']) {
          throw new CliError('give --password-file FILE, or --cert-only for a user that authenticates with a client certificate (CN = the user name)', ExitCode.invalidInput);
        }
        const password = args['password-file'] !== undefined ? readPasswordFile(args['password-file']) : undefined;
        await withFleet(args, async (fleet) => {
          // Names are checked as the keys are: a bad host id fails here, before anything is written.
          const role = await reconcileRole(fleet, roleName(fleet.project, kind, kind === 'host' ? name : undefined), kind, kind === 'host' ? name : undefined);
          const user = await ensureUser(fleet, args.user ?? defaultUserName(fleet.project, kind, name), role.role, password);
          reporter.result({ project: fleet.project, kind, name, role, user }, describeSetup(role, user));
        });
      }),
  };
}
