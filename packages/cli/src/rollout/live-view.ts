import type { RolloutHistoryEntry, RolloutRequest } from '@gantry/spec';
import { ExitCode } from '../exit-codes';
import { describeLock, lockJson, locksIn } from '../fleet/deploy-lock';
import { etcdReason, type FleetClient } from '../fleet/fleet-client';
import type { Reporter } from '../reporter';
import { renderTable } from '../table';
import { buildRolloutView, changeKey, finishedEntry, HOST_HEADER, hostCells, readRecords, statusesByHost, summaryLine, type RolloutView } from './view-model';

export type LiveOutcome = { kind: 'finished'; entry: RolloutHistoryEntry } | { kind: 'interrupted' };

export interface LiveViewOptions {
  json: boolean;
  signal: AbortSignal;
  out?: (line: string) => void;
  err?: (line: string) => void;
  tty?: boolean;
}

/**
 * Follows one rollout live: watches (never polls) the component's rollout prefix and the project's
 * hosts prefix, and shows every change — redrawn in place on a terminal, timestamped lines when not,
 * one JSON object per change with --json. Resolves once the rollout's history entry appears and the
 * state key no longer holds it, or when `signal` aborts (the rollout goes on: it lives in etcd).
 */
export async function followRollout(fleet: FleetClient, request: RolloutRequest, opts: LiveViewOptions): Promise<LiveOutcome> {
  const { keys, project } = fleet;
  const component = request.component;
  const where = { keys, project, component };
  const out = opts.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = opts.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const tty = !opts.json && (opts.tty ?? Boolean(process.stdout.isTTY));

  let lastKey: string | undefined;
  let lastRows = new Map<string, string>();
  let view: RolloutView | undefined;
  /** Deploy locks held now: they hold no running rollout, but the next deploy or undo (shown so that nobody is surprised then). */
  let locks: ReturnType<typeof locksIn> = [];
  let trouble: string | undefined;
  let finish: (outcome: LiveOutcome) => void = () => undefined;
  const done = new Promise<LiveOutcome>((resolve) => (finish = resolve));

  const redraw = () => {
    if (!view) return;
    const now = new Date();
    const status = trouble ? `etcd: ${trouble}` : 'watching (Ctrl-C to detach; the rollout goes on)';
    const table = view.rows.length ? renderTable(HOST_HEADER, view.rows.map(hostCells)) : 'no hosts yet (waiting for the coordinator)';
    const problems = [...locks.map(describeLock), ...view.problems.map((p) => `warning: ${p}`)].join('\n');
    process.stdout.write(`\x1b[H\x1b[2J${project}/${component} at ${now.toISOString().slice(11, 19)} — ${status}\n${summaryLine(view)}\n\n${table}\n${problems ? `\n${problems}\n` : ''}`);
  };

  const mirror = fleet.mirror([keys.rollout(project, component), keys.hostsPrefix(project), keys.lock(project)], (e) => {
    trouble = `${etcdReason(e)}; retrying`;
    if (tty) redraw();
    else err(`warning: etcd at ${fleet.endpoints.join(', ')}: ${trouble}`);
  });

  const update = () => {
    if (!mirror.synced) return;
    trouble = undefined;
    const records = readRecords(where, mirror);
    const entry = finishedEntry(request.id, records);
    if (entry) {
      finish({ kind: 'finished', entry });
      return;
    }
    const now = new Date();
    view = buildRolloutView(request, records, statusesByHost(where, mirror), now);
    locks = locksIn(mirror, keys, project);
    const key = `${changeKey(view)}|${locks.map(describeLock).join('|')}`;
    if (tty) {
      redraw();
      lastKey = key;
      return;
    }
    if (key === lastKey) return;
    lastKey = key;
    if (opts.json) {
      out(JSON.stringify({ event: 'change', at: now.toISOString(), ...view, locks: locks.map(lockJson) }));
      return;
    }
    const stamp = now.toISOString();
    out(`${stamp}  ${summaryLine(view)}`);
    const rows = new Map(view.rows.map((r) => [r.host, hostCells(r).join('  ')]));
    for (const [host, line] of rows) if (lastRows.get(host) !== line) out(`${stamp}    ${line}`);
    for (const l of locks) out(`${stamp}    ${describeLock(l)}`);
    for (const p of view.problems) out(`${stamp}    warning: ${p}`);
    lastRows = rows;
  };

  mirror.subscribe(update);
  // On a terminal, elapsed time and drain deadlines count on between changes (a local redraw, not a poll).
  const ticker = tty ? setInterval(redraw, 1000) : undefined;
  const onAbort = () => finish({ kind: 'interrupted' });
  opts.signal.addEventListener('abort', onAbort, { once: true });
  if (opts.signal.aborted) onAbort();
  try {
    void mirror.start();
    return await done;
  } finally {
    clearInterval(ticker);
    opts.signal.removeEventListener('abort', onAbort);
    await mirror.stop();
  }
}

/** Reports how a followed rollout ended and sets the exit code: 0 succeeded, 1 otherwise, 130 detached. */
export function reportOutcome(reporter: Reporter, request: RolloutRequest, outcome: LiveOutcome): void {
  if (outcome.kind === 'interrupted') {
    reporter.result({ id: request.id, component: request.component, state: 'detached', interrupted: true }, [`detached from rollout ${request.id}; it goes on (gantry rollout watch to follow it again)`]);
    process.exitCode = ExitCode.interrupted;
    return;
  }
  const { state } = outcome.entry;
  const ok = state.state === 'succeeded';
  const failed = state.hosts.filter((h) => h.result === 'failed');
  const skipped = state.hosts.filter((h) => h.result === 'skipped');
  reporter.result(
    { id: request.id, component: request.component, toVersion: request.toVersion, state: state.state, ok, finishedAt: state.finishedAt, message: state.message, hosts: state.hosts },
    [
      `rollout ${request.id} of ${request.component} to ${request.toVersion}: ${state.state}${state.message ? ` — ${state.message}` : ''}`,
      ...failed.map((h) => `  ${h.id} failed${h.error ? `: ${h.error}` : ''}`),
      ...skipped.map((h) => `  ${h.id} skipped${h.error ? `: ${h.error}` : ''}`),
    ],
  );
  if (!ok) process.exitCode = ExitCode.failed;
}
