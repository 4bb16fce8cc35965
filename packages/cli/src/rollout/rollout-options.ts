import type { Argv } from 'yargs';
import { lockWaitOption } from '../fleet/deploy-lock';
import { withFleetOptions, type FleetArgs } from '../fleet/fleet-options';
import type { DeployFlags } from './request-plan';

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

/** The options of the verbs that start a rollout (deploy, rollout undo): its policy, and how the CLI waits. */
export type StartArgs = RolloutArgs & {
  batch?: string;
  canary?: number;
  'min-ready'?: number;
  'progress-deadline'?: number;
  'auto-rollback'?: boolean;
  hosts?: string;
  'on-host-lost'?: string;
  preflight?: boolean;
  wait: boolean;
  'lock-wait': number;
  plan?: boolean;
};

export function withStartOptions<T>(yargs: Argv<T>) {
  return withRolloutOptions(yargs)
    .option('batch', { type: 'string', describe: 'hosts per batch: a count (2) or a percentage of the selected hosts (25%); default 1' })
    .option('canary', { type: 'number', describe: 'update this many hosts first, then pause until `gantry rollout resume`; default 0' })
    .option('min-ready', { type: 'number', describe: 'seconds a host must run the new version ready and healthy to count as done; default 0' })
    .option('progress-deadline', { type: 'number', describe: 'seconds a host may take to be done before it counts as failed; default 600' })
    .option('auto-rollback', { type: 'boolean', describe: 'on failure, move the hosts already updated back to their previous version' })
    .option('hosts', { type: 'string', describe: 'which hosts: all (default), ids "h1,h2", or labels "zone=a,tier=web"' })
    .option('on-host-lost', {
      type: 'string',
      describe: 'a host updating (or still to update) whose registration is gone (lease expired: agent dead or cut off from etcd): fail the rollout naming it (fail, default) or skip it and go on (skip)',
    })
    .option('preflight', {
      type: 'boolean',
      describe: 'before the first batch, every selected host pulls the image; a missing tag or a refusing registry fails the rollout with no host moved (default; --no-preflight: each host pulls when its batch comes)',
    })
    .option('wait', { type: 'boolean', default: true, describe: 'follow the rollout live until it finishes (--no-wait: print its id and exit)' })
    .option('lock-wait', lockWaitOption)
    .option('plan', {
      type: 'boolean',
      describe: "write nothing: print the batches in order, each host's current and target version, and what would block the rollout (exit 0: nothing; 5: a lock; 1: anything else)",
    });
}

/** The request's flags from those options, for a version. */
export const policyFlags =
  (args: StartArgs) =>
  (tag: string): DeployFlags => ({
    component: String(args.component),
    tag,
    batch: args.batch,
    canary: args.canary,
    minReady: args['min-ready'],
    progressDeadline: args['progress-deadline'],
    autoRollback: args['auto-rollback'],
    hosts: args.hosts,
    onHostLost: args['on-host-lost'],
    preflight: args.preflight,
  });
