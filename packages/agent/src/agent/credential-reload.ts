import type { Etcd3 } from 'etcd3';
import { describeConnection, reloadCredentials, resolveConnectionOptions, type EtcdConnectionOptions } from '@gantry/etcd';
import type { Logger } from './logger';

/**
 * gantryd's SIGHUP for etcd: the connection settings resolved again (flags, environment, the
 * --etcd-config file, whose password or certificate paths may have changed) and the certificate
 * files read again; the client uses them from its next call. Anything unreadable or invalid is
 * logged, naming the file, and the credentials in use are kept. Returns the settings now in use.
 */
export function reloadEtcdCredentials(etcd: Etcd3, current: EtcdConnectionOptions, flags: Record<string, unknown>, log: Logger): EtcdConnectionOptions {
  try {
    const next = resolveConnectionOptions({ flags });
    reloadCredentials(etcd, current, next);
    log.info('SIGHUP: etcd credentials re-read', { etcd: describeConnection(next) });
    return next;
  } catch (err) {
    log.error('SIGHUP: etcd credentials not changed: the new ones cannot be used', { error: (err as Error).message });
    return current;
  }
}
