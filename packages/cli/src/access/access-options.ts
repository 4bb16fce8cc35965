import type { Argv } from 'yargs';
import { withFleetOptions, type FleetArgs } from '../fleet/fleet-options';

export interface AccessArgs extends FleetArgs {
  'password-file'?: string;
  'cert-only'?: boolean;
  user?: string;
}

/** `PROJECT` as the verb's first argument (instead of --project), with the etcd options of an admin's connection. */
export function withAccessOptions<T>(yargs: Argv<T>) {
  return withFleetOptions(yargs).positional('project', { type: 'string', describe: 'the project whose access this sets up' });
}

/** `--password-file FILE`, `--cert-only` and `--user NAME`, for the verbs that create a user. */
export function withUserOptions<T>(yargs: Argv<T>, defaultUser: string) {
  return withAccessOptions(yargs)
    .option('password-file', { type: 'string', describe: "the user's password: the first line of FILE (never a flag: flags show in ps)" })
    .option('cert-only', { type: 'boolean', describe: 'a user without a password, who authenticates with a client certificate whose CN is the user name' })
    .option('user', { type: 'string', describe: `the etcd user (default: ${defaultUser})` })
    .conflicts('password-file', 'cert-only');
}
