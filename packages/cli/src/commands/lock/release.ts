import type { CommandModule } from 'yargs';
import { CliError } from '../../cli-error';
import { ExitCode } from '../../exit-codes';
import { describeLock, lockHolder, readLock } from '../../fleet/deploy-lock';
import { withFleet } from '../../fleet/fleet-client';
import { runVerb } from '../../run-verb';
import { withLockOptions, type LockArgs } from './lock-options';

export const lockReleaseCommand: CommandModule<object, LockArgs & { force: boolean }> = {
  command: 'release <project> [component]',
  describe: 'release the deploy lock you hold (--force: whoever holds it)',
  builder: (y) => withLockOptions(y).option('force', { type: 'boolean', default: false, describe: "release someone else's lock (or a value that is not a valid lock)" }) as never,
  handler: (args) =>
    runVerb(args.json, async (reporter) => {
      const component = args.component === undefined ? undefined : String(args.component);
      const holder = args.holder ?? lockHolder();
      await withFleet(args, async (fleet) => {
        const key = fleet.keys.lock(fleet.project, component);
        const existing = await readLock(fleet, component);
        if (!existing) {
          reporter.result({ ok: true, project: fleet.project, key, changed: false }, [`not locked (${key})`]);
          return;
        }
        if (existing.lock?.holder !== holder && !args.force) {
          throw new CliError(`not yours: ${describeLock(existing)}; release it with --force`, ExitCode.locked, { key, ...(existing.lock && { lock: existing.lock }) });
        }
        // Guarded: a lock re-acquired meanwhile is not released by this.
        const res = await fleet.call(`deleting ${key}`, (o) => fleet.etcd.if(key, 'Mod', '==', existing.modRevision).then(fleet.etcd.delete().key(key)).options(o).commit());
        if (!res.succeeded) throw new CliError(`${key} changed meanwhile; look with \`gantry lock status ${fleet.project}\` and try again`, ExitCode.failed, { key });
        reporter.result({ ok: true, project: fleet.project, key, changed: true, ...(existing.lock && { lock: existing.lock }) }, [`released ${key}${existing.lock ? ` (held by ${existing.lock.holder})` : ''}`]);
      });
    }),
};
