import type { CommandModule } from 'yargs';
import type { LockRecord } from '@gantry/spec';
import { CliError } from '../../cli-error';
import { ExitCode } from '../../exit-codes';
import { describeLock, lockHolder, readLock } from '../../fleet/deploy-lock';
import { withFleet } from '../../fleet/fleet-client';
import { runVerb } from '../../run-verb';
import { withLockOptions, type LockArgs } from './lock-options';

type Args = LockArgs & { message: string; ttl?: number };

export const lockAcquireCommand: CommandModule<object, Args> = {
  command: 'acquire <project> [component]',
  describe: "hold the deploy lock of the project (or one component): others' deploy and set-version are refused until it is released (or its TTL ends)",
  builder: (y) =>
    withLockOptions(y)
      .option('message', { alias: 'm', type: 'string', demandOption: 'say why with -m MESSAGE', describe: 'why: shown to everyone refused' })
      .option('ttl', { type: 'number', describe: 'seconds after which etcd drops the lock by itself (default: held until released)' }) as never,
  handler: (args) =>
    runVerb(args.json, async (reporter) => {
      const component = args.component === undefined ? undefined : String(args.component);
      if (args.ttl !== undefined && !(Number.isInteger(args.ttl) && args.ttl > 0)) throw new CliError(`--ttl must be a whole number of seconds, 1 or more: got ${args.ttl}`, ExitCode.invalidInput);
      if (!args.message.trim()) throw new CliError('say why with -m MESSAGE', ExitCode.invalidInput);
      const holder = args.holder ?? lockHolder();
      await withFleet(args, async (fleet) => {
        const key = fleet.keys.lock(fleet.project, component);
        const record: LockRecord = { holder, message: args.message, acquiredAt: new Date().toISOString(), ...(args.ttl !== undefined && { ttlSeconds: args.ttl }) };
        // A TTL is a lease nobody keeps alive: etcd deletes the lock when it ends, on etcd's clock.
        const leaseId = args.ttl === undefined ? undefined : (await fleet.call(`granting a ${args.ttl} s lease for ${key}`, (o) => fleet.etcd.leaseClient.leaseGrant({ TTL: args.ttl!, ID: 0 }, o))).ID;
        const put = () => {
          const p = fleet.etcd.put(key).value(JSON.stringify(record));
          return leaseId === undefined ? p : p.lease(leaseId);
        };
        const res = await fleet.call(`writing ${key}`, (o) => fleet.etcd.if(key, 'Create', '==', 0).then(put()).options(o).commit());
        if (!res.succeeded) {
          if (leaseId !== undefined) await fleet.call('revoking the unused lease', (o) => fleet.etcd.leaseClient.leaseRevoke({ ID: leaseId }, o)).catch(() => undefined);
          const existing = await readLock(fleet, component);
          if (existing?.lock?.holder === holder) {
            reporter.result({ ok: true, project: fleet.project, key, changed: false, lock: existing.lock }, [`already yours: ${describeLock(existing)}`]);
            return;
          }
          throw new CliError(`not acquired: ${existing ? describeLock(existing) : `${key} changed meanwhile; try again`}`, ExitCode.locked, { key, ...(existing?.lock && { lock: existing.lock }) });
        }
        reporter.result({ ok: true, project: fleet.project, key, changed: true, lock: record, revision: String(res.header.revision) }, [
          `locked   ${component ?? `project ${fleet.project}`} as ${holder}${args.ttl ? ` for ${args.ttl} s` : ''}: "${args.message}" (${key})`,
        ]);
      });
    }),
};
