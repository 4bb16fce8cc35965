import { etcdOptionDefinitions } from '@gantry/etcd';
import { DEFAULT_PREFIX } from '@gantry/spec';
import type { Argv } from 'yargs';

/** Options of every etcd verb, besides its own. */
export interface FleetArgs {
  prefix: string;
  project: string;
  json: boolean;
  [option: string]: unknown;
}

/** `--json` alone: for verbs that need no etcd (`gantry config validate`). */
export function withJsonOption<T>(yargs: Argv<T>) {
  return yargs.option('json', { type: 'boolean', default: false, describe: 'one JSON object per line: the result, or an error' });
}

/**
 * The etcd connection options of @gantry/etcd (flags, then GANTRY_ETCD_* variables, then the
 * --etcd-config file), `--prefix`, `--project` and `--json`.
 */
export function withFleetOptions<T>(yargs: Argv<T>) {
  const project = process.env.GANTRY_PROJECT || undefined;
  return withJsonOption(yargs)
    .options(etcdOptionDefinitions)
    // `--etcd URLS` as gantryd takes it, short for --etcd-endpoints.
    .alias('etcd-endpoints', 'etcd')
    .option('prefix', { type: 'string', default: DEFAULT_PREFIX, describe: 'the prefix every Gantry key lives under' })
    .option('project', {
      type: 'string',
      default: project,
      demandOption: project ? false : 'name the project with --project NAME or $GANTRY_PROJECT',
      describe: 'the project to act on ($GANTRY_PROJECT)',
    });
}
