import type { CommandModule } from 'yargs';
import { recordMap, type RecordSource } from '@gantry/spec';
import { describeLock, lockJson, locksIn } from '../fleet/deploy-lock';
import { etcdReason, valuesOf, withFleet } from '../fleet/fleet-client';
import { withFleetOptions, type FleetArgs } from '../fleet/fleet-options';
import { buildStatusRows, diffRows, STATUS_HEADER, statusCells, type StatusRow } from '../fleet/status-rows';
import { runVerb } from '../run-verb';
import { renderTable } from '../table';

type Args = FleetArgs & { watch: boolean };

const write = (line: string) => process.stdout.write(`${line}\n`);
const table = (rows: StatusRow[], now: Date) => renderTable(STATUS_HEADER, rows.map((r) => statusCells(r, now)));
/** The deploy locks held, under the table (deploy, undo and set-version are refused to others while they are). */
const lockLines = (locks: string[]) => (locks.length ? ['', ...locks] : []);

/** One change of a row in `--watch --json`: the row's host, component and status, or `removed`. */
function changeLine(row: StatusRow, at: Date, removed = false): string {
  if (removed) return JSON.stringify({ event: 'change', at: at.toISOString(), host: row.host, component: row.component, kind: row.kind, removed: true, status: null });
  return JSON.stringify({ event: 'change', at: at.toISOString(), ...row, id: undefined });
}

export const statusCommand: CommandModule<object, Args> = {
  command: 'status',
  describe: 'what every host runs of every component: version, phase, health, draining, last error (--watch: live)',
  builder: (y) => withFleetOptions(y).option('watch', { alias: 'w', type: 'boolean', default: false, describe: 'keep watching etcd and show every change, until interrupted' }) as never,
  handler: (args) =>
    runVerb(args.json, async (reporter, signal) => {
      await withFleet(args, async (fleet) => {
        const { keys, project } = fleet;
        const empty = `no hosts and no status under ${keys.hostsPrefix(project)}`;
        const locksOf = (records: RecordSource) => locksIn(records, keys, project);
        if (!args.watch) {
          const first = await fleet.readHosts();
          const records = recordMap(keys, [...valuesOf(first.entries), ...valuesOf((await fleet.readPrefix(keys.lock(project))).entries)]);
          const rows = buildStatusRows(keys, project, records);
          const locks = locksOf(records);
          reporter.result({ project, revision: first.revision, rows: rows.map(({ id: _id, ...row }) => row), locks: locks.map(lockJson) }, [rows.length ? table(rows, new Date()) : empty, ...lockLines(locks.map(describeLock))]);
          return;
        }

        // --watch: every key under the hosts prefix, kept current by the mirror's watch.
        const tty = !args.json && Boolean(process.stdout.isTTY);
        let rows: StatusRow[] = [];
        let locks: string[] = [];
        let started = false;
        let trouble: string | undefined;
        const redraw = () => {
          const now = new Date();
          const state = trouble ? `etcd: ${trouble}` : 'watching (Ctrl-C to quit)';
          process.stdout.write(`\x1b[H\x1b[2J${project} at ${now.toISOString().slice(11, 19)} — ${state}\n\n${[rows.length ? table(rows, now) : empty, ...lockLines(locks)].join('\n')}\n`);
        };
        // `lock` is a prefix of `locks/` too: one watch for the project's lock and the components'.
        const mirror = fleet.mirror([keys.hostsPrefix(project), keys.lock(project)], (err) => {
          trouble = `${etcdReason(err)}; retrying`;
          if (tty) redraw();
          else process.stderr.write(`warning: etcd at ${fleet.endpoints.join(', ')}: ${trouble}\n`);
        });
        const update = () => {
          if (trouble && !tty && !args.json) process.stderr.write(`etcd at ${fleet.endpoints.join(', ')} answers again, watching\n`);
          trouble = undefined;
          const next = buildStatusRows(keys, project, mirror);
          const now = new Date();
          const { changed, removed } = diffRows(rows, next);
          rows = next;
          const nextLocks = locksOf(mirror);
          const lockChanged = JSON.stringify(nextLocks.map(describeLock)) !== JSON.stringify(locks);
          locks = nextLocks.map(describeLock);
          if (args.json) {
            for (const row of removed) write(changeLine(row, now, true));
            for (const row of changed) write(changeLine(row, now));
            if (lockChanged) write(JSON.stringify({ event: 'locks', at: now.toISOString(), locks: nextLocks.map(lockJson) }));
          } else if (tty) {
            redraw();
          } else if (!started) {
            write([rows.length ? table(rows, now) : empty, ...lockLines(locks)].join('\n'));
          } else {
            const stamp = now.toISOString();
            for (const row of removed) write(`${stamp}  ${row.host}  ${row.component ?? '-'}  (gone from etcd)`);
            for (const row of changed) write(`${stamp}  ${statusCells(row, now).join('  ')}`);
            if (lockChanged) write(`${stamp}  ${locks.length ? locks.join('; ') : 'no deploy lock held'}`);
          }
          started = true;
        };
        mirror.subscribe(() => mirror.synced && update());
        // In a terminal, ages and drain deadlines count on between changes (a local redraw, not a poll).
        const ticker = tty ? setInterval(redraw, 1000) : undefined;
        try {
          void mirror.start();
          if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        } finally {
          clearInterval(ticker);
          await mirror.stop();
        }
      });
    }),
};
