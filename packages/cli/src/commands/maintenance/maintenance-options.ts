import type { Argv } from 'yargs';
import { withFleetOptions, type FleetArgs } from '../../fleet/fleet-options';

export interface MaintenanceArgs extends FleetArgs {
  component: string;
  /** Seconds to wait for the hosts; false with --no-wait. */
  wait: number | false;
}

/** How long `on` and `off` wait by default for every host to apply them. */
export const MAINTENANCE_WAIT_S = 30;

/** PROJECT COMPONENT as arguments, the etcd options, and `--wait`. */
export function withMaintenanceOptions<T>(yargs: Argv<T>) {
  return withFleetOptions(yargs)
    .positional('project', { type: 'string', describe: 'the project' })
    .positional('component', { type: 'string', describe: 'the component' })
    .option('wait', { type: 'number', default: MAINTENANCE_WAIT_S, describe: 'seconds to wait until every registered host applied it (--no-wait or 0: do not wait)' });
}

/** `--wait` as seconds (--no-wait: 0); anything else is invalid input. */
export function waitSeconds(wait: number | false): number | undefined {
  if (wait === false) return 0;
  return Number.isFinite(wait) && wait >= 0 ? wait : undefined;
}
