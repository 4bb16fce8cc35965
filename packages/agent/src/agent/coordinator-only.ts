import type { Etcd3 } from 'etcd3';
import type { KeyLayout } from '@gantry/spec';
import type { Logger } from './logger';
import { mayCoordinate } from '../rollout/coordinator-capability';
import { RolloutCoordinator, type CoordinatorOptions } from '../rollout/coordinator';

export interface CoordinatorOnlyOptions {
  etcd: Etcd3;
  keys: KeyLayout;
  project: string;
  /** Names this coordinator in the coordinator key (a control host's name). */
  hostId: string;
  log: Logger;
  leaseTtlS: number;
  coordinator: Pick<CoordinatorOptions, 'historyLimit' | 'goneHostRetentionMs'>;
}

/**
 * `gantryd --coordinator only`: a rollout coordinator candidate and nothing else — no Docker, no
 * HAProxy, no host registration — for a control host with coordinator credentials. Refuses to start
 * (throws the refusal) when the credentials do not allow a coordinator's writes. What it cannot act
 * on is logged: it has no host record to show it in.
 */
export async function startCoordinatorOnly(opts: CoordinatorOnlyOptions): Promise<RolloutCoordinator> {
  await mayCoordinate(opts.etcd, opts.keys, opts.project, 'only', opts.log);
  const coordinator = new RolloutCoordinator({
    ...opts.coordinator,
    etcd: opts.etcd,
    keys: opts.keys,
    project: opts.project,
    hostId: opts.hostId,
    log: opts.log,
    leaseTtlS: opts.leaseTtlS,
    onProblems: (problems) => {
      if (problems.length > 0) opts.log.warn('rollout keys the coordinator cannot act on', { problems });
    },
  });
  await coordinator.start();
  opts.log.info('coordinator started (--coordinator only: no host, no Docker, no HAProxy)');
  return coordinator;
}
