import { coordinatorRecordSchema, recordMap, type RolloutHistoryEntry, type RolloutRequest } from '@gantry/spec';
import type { Argv, CommandModule } from 'yargs';
import { CliError } from '../cli-error';
import { ExitCode } from '../exit-codes';
import { valuesOf, withFleet, type FleetClient } from '../fleet/fleet-client';
import { followRollout, reportOutcome } from '../rollout/live-view';
import { controlValue, planControl, type ControlAction } from '../rollout/request-plan';
import { withRolloutOptions, type RolloutArgs } from '../rollout/rollout-options';
import {
  buildRolloutView,
  controlRefusal,
  finishedEntry,
  HISTORY_HEADER,
  historyCells,
  historyRows,
  HOST_HEADER,
  hostCells,
  hostsLeft,
  readRecords,
  statusesByHost,
  summaryLine,
  type RolloutRecords,
} from '../rollout/view-model';
import { readRollout } from '../rollout/read-rollout';
import { undoCommand } from './rollout/undo';
import { runVerb } from '../run-verb';
import { renderTable } from '../table';
import { operator } from '../fleet/operator';

const builder = (y: Argv) => withRolloutOptions(y) as never;

/** The active rollout's request; none active (or an unreadable one) is refused, exit 2. */
function activeRequest(fleet: FleetClient, component: string, records: RolloutRecords): RolloutRequest {
  if (records.request) return records.request;
  const key = fleet.keys.rolloutRequest(fleet.project, component);
  const problem = records.problems.find((p) => p.includes(key));
  if (problem) throw new CliError(`the active rollout of ${component} is unreadable: ${problem}`, ExitCode.invalidInput, { key });
  throw new CliError(`no active rollout of ${component} in ${fleet.project} (${key} is absent)`, ExitCode.invalidInput, { key });
}

const component = (args: RolloutArgs) => String(args.component);

const statusCommand: CommandModule<object, RolloutArgs> = {
  command: 'status <project> <component>',
  describe: 'the active rollout: state, batch, per-host results (or the last finished one)',
  builder,
  handler: (args) =>
    runVerb(args.json, async (reporter) => {
      await withFleet(args, async (fleet) => {
        const name = component(args);
        const records = await readRollout(fleet, name);
        const last = historyRows(records.history.values())[0];
        if (!records.request) {
          const lastEntry = last ? records.history.get(last.id) : undefined;
          reporter.result({ project: fleet.project, component: name, active: false, last: lastEntry ?? null, problems: records.problems }, [
            `no active rollout of ${name}`,
            last ? `last: ${renderTable(HISTORY_HEADER, [historyCells(last)]).split('\n').join('\n      ')}` : 'no finished rollout in history',
            ...records.problems.map((p) => `warning: ${p}`),
          ]);
          return;
        }
        const hosts = await fleet.readHosts();
        const view = buildRolloutView(records.request, records, statusesByHost({ keys: fleet.keys, project: fleet.project, component: name }, recordMap(fleet.keys, valuesOf(hosts.entries))), new Date());
        reporter.result({ project: fleet.project, active: true, request: records.request, ...view }, [
          summaryLine(view),
          '',
          view.rows.length ? renderTable(HOST_HEADER, view.rows.map(hostCells)) : 'no hosts yet (waiting for the coordinator)',
          ...view.problems.map((p) => `warning: ${p}`),
        ]);
      });
    }),
};

const watchCommand: CommandModule<object, RolloutArgs> = {
  command: 'watch <project> <component>',
  describe: 'follow the active rollout live until it finishes (exit 0 succeeded, 1 otherwise; Ctrl-C detaches)',
  builder,
  handler: (args) =>
    runVerb(args.json, async (reporter, signal) => {
      await withFleet(args, async (fleet) => {
        const request = activeRequest(fleet, component(args), await readRollout(fleet, component(args)));
        reportOutcome(reporter, request, await followRollout(fleet, request, { json: args.json, signal }));
      });
    }),
};

const controlDescriptions: Record<ControlAction, string> = {
  pause: 'pause the active rollout after the hosts under way',
  resume: 'resume a paused rollout (also after the canary hosts)',
  abort: 'stop the active rollout where it is (updated hosts keep the new version), and wait for the coordinator to record it',
  rollback: 'stop the active rollout and move the updated hosts back to their previous version',
};

/** How long `rollout abort` waits for the coordinator to record the outcome, by default. */
const ABORT_WAIT_S = 10;

type ControlArgs = RolloutArgs & { wait?: number };

/**
 * Waits (watching, not polling) until the rollout is in history, or `ms` passed: the coordinator
 * recorded how it ended. undefined on timeout.
 */
async function awaitFinished(fleet: FleetClient, request: RolloutRequest, ms: number, signal: AbortSignal): Promise<RolloutHistoryEntry | undefined> {
  const { keys, project } = fleet;
  const where = { keys, project, component: request.component };
  const mirror = fleet.mirror([keys.rollout(project, request.component)]);
  let finish: (entry: RolloutHistoryEntry | undefined) => void = () => undefined;
  const done = new Promise<RolloutHistoryEntry | undefined>((resolve) => (finish = resolve));
  const check = () => {
    if (!mirror.synced) return;
    const entry = finishedEntry(request.id, readRecords(where, mirror));
    if (entry) finish(entry);
  };
  mirror.subscribe(check);
  const timer = setTimeout(() => finish(undefined), ms);
  const onAbort = () => finish(undefined);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    void mirror.start().then(check, () => undefined);
    return await done;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
    await mirror.stop();
  }
}

function controlCommand(action: ControlAction): CommandModule<object, ControlArgs> {
  return {
    command: `${action} <project> <component>`,
    describe: controlDescriptions[action],
    builder: (y: Argv) =>
      (action === 'abort'
        ? withRolloutOptions(y).option('wait', { type: 'number', default: ABORT_WAIT_S, describe: 'seconds to wait for the coordinator to record the abort (0: do not wait)' })
        : withRolloutOptions(y)) as never,
    handler: (args) =>
      runVerb(args.json, async (reporter, signal) => {
        await withFleet(args, async (fleet) => {
          const name = component(args);
          const records = await readRollout(fleet, name);
          const request = activeRequest(fleet, name, records);
          const state = records.state?.rollout === request.id ? records.state : undefined;
          const refused = controlRefusal(action, request.id, state, records.control);
          if (refused) throw new CliError(`${refused}; nothing was written`, ExitCode.invalidInput, { rollout: request.id, state: state?.state ?? 'pending' });
          const control = controlValue({ rollout: request.id, action, by: operator(), at: new Date() });
          const plan = planControl({ keys: fleet.keys, project: fleet.project, component: name, control, requestModRevision: records.requestModRevision ?? '0' });
          // Also only while the control read is still there: never over another operator's instruction given meanwhile.
          plan.guards.push({ key: fleet.keys.rolloutControl(fleet.project, name), modRevision: records.controlModRevision });
          const coordinatorKey = fleet.keys.coordinator(fleet.project);
          const coordinator = await fleet.read(coordinatorKey, coordinatorRecordSchema);
          const result = await fleet.commit(plan);
          if (!result.succeeded) {
            throw new CliError(`rollout ${request.id} of ${name} changed meanwhile (it finished, was replaced, or got another instruction); nothing was written — look again with \`gantry rollout status\``, ExitCode.invalidInput, {
              rollout: request.id,
            });
          }
          const was = state?.state ?? 'pending';
          const key = plan.puts[0].key;
          const base = { project: fleet.project, component: name, rollout: request.id, control, was, key, revision: result.revision };
          const leader = coordinator.found && coordinator.ok ? coordinator.value.hostId : undefined;
          if (!leader) {
            reporter.result({ ok: false, ...base, applied: false, coordinator: null }, [
              `${action} of rollout ${request.id} recorded (${key}); no coordinator is running (no gantryd of ${fleet.project} holds ${coordinatorKey}): it applies when one runs`,
            ]);
            process.exitCode = ExitCode.unavailable;
            return;
          }
          const waitS = action === 'abort' ? Number(args.wait ?? ABORT_WAIT_S) : 0;
          if (waitS <= 0) {
            reporter.result({ ok: true, ...base, applied: false, coordinator: leader }, [`${action} of rollout ${request.id} recorded (it was ${was}); the coordinator (${leader}) acts on it (${key})`]);
            return;
          }
          const entry = await awaitFinished(fleet, request, waitS * 1000, signal);
          if (!entry) {
            reporter.result({ ok: false, ...base, applied: false, coordinator: leader }, [
              `abort of rollout ${request.id} recorded (${key}), but the coordinator (${leader}) has not recorded the outcome within ${waitS} s; it applies it when it steps (follow with \`gantry rollout status ${fleet.project} ${name}\`)`,
            ]);
            process.exitCode = ExitCode.unavailable;
            return;
          }
          const left = hostsLeft(entry);
          const outcome = entry.state.state;
          if (outcome !== 'aborted') {
            reporter.result({ ok: false, ...base, applied: false, outcome, message: entry.state.message, hosts: left.groups }, [
              `rollout ${request.id} ended ${outcome} before the abort applied${entry.state.message ? ` (${entry.state.message})` : ''}: ${left.text}`,
            ]);
            process.exitCode = ExitCode.failed;
            return;
          }
          reporter.result({ ok: true, ...base, applied: true, outcome, message: entry.state.message, hosts: left.groups, coordinator: entry.state.coordinator ?? leader }, [
            `rollout ${request.id} ${entry.state.message ?? `aborted by ${control.by}`}: ${left.text}`,
          ]);
        });
      }),
  };
}

const historyCommand: CommandModule<object, RolloutArgs> = {
  command: 'history <project> <component>',
  describe: 'the finished rollouts of a component, newest first',
  builder,
  handler: (args) =>
    runVerb(args.json, async (reporter) => {
      await withFleet(args, async (fleet) => {
        const name = component(args);
        const records = await readRollout(fleet, name);
        const rows = historyRows(records.history.values());
        reporter.result({ project: fleet.project, component: name, rollouts: rows, problems: records.problems }, [
          rows.length ? renderTable(HISTORY_HEADER, rows.map(historyCells)) : `no finished rollout of ${name} under ${fleet.keys.rolloutHistory(fleet.project, name)}`,
          ...records.problems.map((p) => `warning: ${p}`),
        ]);
      });
    }),
};

export const rolloutCommand: CommandModule = {
  command: 'rollout <verb>',
  describe: 'follow and steer rolling updates: status, watch, pause, resume, abort, rollback, undo, history',
  builder: (y) =>
    y
      .command([statusCommand, watchCommand, controlCommand('pause'), controlCommand('resume'), controlCommand('abort'), controlCommand('rollback'), undoCommand, historyCommand] as CommandModule[])
      .demandCommand(1, 'name a verb: status, watch, pause, resume, abort, rollback, undo or history'),
  handler: () => undefined,
};
