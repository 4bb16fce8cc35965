import { recordMap, type RolloutRequest } from '@gantry/spec';
import type { Argv, CommandModule } from 'yargs';
import { CliError } from '../cli-error';
import { ExitCode } from '../exit-codes';
import { valuesOf, withFleet, type FleetClient } from '../fleet/fleet-client';
import { followRollout, reportOutcome } from '../rollout/live-view';
import { controlValue, planControl, type ControlAction } from '../rollout/request-plan';
import { withRolloutOptions, type RolloutArgs } from '../rollout/rollout-options';
import {
  buildRolloutView,
  HISTORY_HEADER,
  historyCells,
  historyRows,
  HOST_HEADER,
  hostCells,
  readRecords,
  statusesByHost,
  summaryLine,
  type RolloutRecords,
} from '../rollout/view-model';
import { runVerb } from '../run-verb';
import { renderTable } from '../table';
import { operator } from './set-version';

const builder = (y: Argv) => withRolloutOptions(y) as never;

/** The component's rollout records, read in one range get of the project's rollouts (which also shows keys that belong to no rollout). */
async function readRollout(fleet: FleetClient, component: string): Promise<RolloutRecords> {
  const { entries } = await fleet.readPrefix(fleet.keys.rolloutsPrefix(fleet.project));
  const records = readRecords({ keys: fleet.keys, project: fleet.project, component }, recordMap(fleet.keys, valuesOf(entries)));
  const stored = entries.get(fleet.keys.rolloutRequest(fleet.project, component));
  if (stored) records.requestModRevision = stored.modRevision;
  return records;
}

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
  abort: 'stop the active rollout where it is: updated hosts keep the new version',
  rollback: 'stop the active rollout and move the updated hosts back to their previous version',
};

function controlCommand(action: ControlAction): CommandModule<object, RolloutArgs> {
  return {
    command: `${action} <project> <component>`,
    describe: controlDescriptions[action],
    builder,
    handler: (args) =>
      runVerb(args.json, async (reporter) => {
        await withFleet(args, async (fleet) => {
          const name = component(args);
          const records = await readRollout(fleet, name);
          const request = activeRequest(fleet, name, records);
          const control = controlValue({ rollout: request.id, action, by: operator(), at: new Date() });
          const plan = planControl({ keys: fleet.keys, project: fleet.project, component: name, control, requestModRevision: records.requestModRevision ?? '0' });
          const result = await fleet.commit(plan);
          if (!result.succeeded) throw new CliError(`rollout ${request.id} of ${name} is no longer the active one (it finished or was replaced); nothing was written`, ExitCode.failed, { rollout: request.id });
          const state = records.state?.rollout === request.id ? records.state.state : 'pending';
          reporter.result({ ok: true, project: fleet.project, component: name, rollout: request.id, control, state, key: plan.puts[0].key, revision: result.revision }, [
            `${action} of rollout ${request.id} requested (it was ${state}); the coordinator acts on it (${plan.puts[0].key})`,
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
  describe: 'follow and steer rolling updates: status, watch, pause, resume, abort, rollback, history',
  builder: (y) =>
    y
      .command([statusCommand, watchCommand, controlCommand('pause'), controlCommand('resume'), controlCommand('abort'), controlCommand('rollback'), historyCommand] as CommandModule[])
      .demandCommand(1, 'name a verb: status, watch, pause, resume, abort, rollback or history'),
  handler: () => undefined,
};
