import type { CommandModule } from 'yargs';
import { describeLock, lockJson, parseLock, readLock } from '../../fleet/deploy-lock';
import { withFleet } from '../../fleet/fleet-client';
import { runVerb } from '../../run-verb';
import { withLockOptions, type LockArgs } from './lock-options';

export const lockStatusCommand: CommandModule<object, LockArgs> = {
  command: 'status <project> [component]',
  describe: "the project's deploy locks (or those that hold one component)",
  builder: (y) => withLockOptions(y) as never,
  handler: (args) =>
    runVerb(args.json, async (reporter) => {
      const component = args.component === undefined ? undefined : String(args.component);
      await withFleet(args, async (fleet) => {
        const projectLock = await readLock(fleet);
        const componentLocks = [];
        if (component !== undefined) {
          const one = await readLock(fleet, component);
          if (one) componentLocks.push(one);
        } else {
          // One range read: each value is parsed as read, not fetched again.
          const { entries } = await fleet.readPrefix(fleet.keys.locksPrefix(fleet.project));
          for (const key of [...entries.keys()].sort()) if (fleet.keys.parse(key)?.kind === 'lock') componentLocks.push(parseLock(entries.get(key)!));
        }
        const locks = [...(projectLock ? [projectLock] : []), ...componentLocks];
        reporter.result(
          { project: fleet.project, locked: locks.length > 0, locks: locks.map(lockJson) },
          locks.length ? locks.map(describeLock) : [`not locked: ${fleet.project}${component ? ` (${component})` : ''}`],
        );
      });
    }),
};
