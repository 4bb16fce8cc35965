import type { Argv } from 'yargs';
import { withFleetOptions, type FleetArgs } from '../../fleet/fleet-options';

export interface LockArgs extends FleetArgs {
  component?: string;
  holder?: string;
}

/** PROJECT [COMPONENT] as arguments, the etcd options, and `--holder`. */
export function withLockOptions<T>(yargs: Argv<T>) {
  return withFleetOptions(yargs)
    .positional('project', { type: 'string', describe: 'the project' })
    .positional('component', { type: 'string', describe: "one component's lock (default: the whole project's)" })
    .option('holder', { type: 'string', describe: 'who holds it ($GANTRY_LOCK_HOLDER, else user@hostname)' });
}
