import type { Etcd3 } from 'etcd3';
import { refusedWrites } from '@gantry/etcd';
import { coordinatorProbeKeys, type KeyLayout } from '@gantry/spec';
import type { Logger } from '../agent/logger';

/**
 * gantryd's --coordinator: `auto` campaigns when the credentials allow a coordinator's writes,
 * `never` does not campaign, `only` runs a coordinator alone (no Docker, no HAProxy, no host).
 */
export type CoordinatorMode = 'auto' | 'never' | 'only';
export const COORDINATOR_MODES: readonly CoordinatorMode[] = ['auto', 'never', 'only'];

/**
 * Whether to campaign. For `auto`, etcd is asked whether these credentials may make a coordinator's
 * writes (without making them): a host's credentials may not, so its agent never campaigns and never
 * tries to write another host's keys. Should etcd not answer the question, the agent campaigns: the
 * election's own writes then answer it.
 */
export async function mayCoordinate(etcd: Etcd3, keys: KeyLayout, project: string, mode: CoordinatorMode, log: Logger): Promise<boolean> {
  if (mode === 'never') {
    log.info('not a coordinator candidate (--coordinator never)');
    return false;
  }
  try {
    const refused = await refusedWrites(etcd, coordinatorProbeKeys(keys, project));
    if (!refused) return true;
    if (mode === 'only') throw refused;
    log.info("not a coordinator candidate: this agent's etcd credentials do not allow a coordinator's writes", { reason: refused.message });
    return false;
  } catch (err) {
    if (mode === 'only') throw err;
    log.warn('could not ask etcd whether this agent may coordinate; campaigning', { error: (err as Error).message });
    return true;
  }
}
