import type { Argv } from 'yargs';
import { withFleetOptions, type FleetArgs } from '../fleet/fleet-options';

/** Arguments of the rollout verbs: PROJECT and COMPONENT positional, plus the etcd options. */
export type RolloutArgs = FleetArgs & { component: string };

/**
 * The etcd options of every fleet verb, with the project given as the PROJECT positional (as the
 * product spec writes `gantry deploy PROJECT COMPONENT`); the command string must name
 * `<project> <component>`.
 */
export function withRolloutOptions<T>(yargs: Argv<T>) {
  return withFleetOptions(yargs)
    .positional('project', { type: 'string', demandOption: true, describe: 'the project' })
    .positional('component', { type: 'string', demandOption: true, describe: "a component of the project's stored config" });
}
