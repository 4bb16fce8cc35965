import { monitorComponent, updateComponent } from '@gantry/agent';
import type { CommandModule } from 'yargs';
import { formatTimings } from '../../format-event';
import { openLocalEngine } from '../../local-engine';
import { withLocalOptions, withMonitorOption, type LocalArgs } from '../../local-options';
import { runVerb } from '../../run-verb';

type Args = LocalArgs & { tag?: string; pull?: 'missing' | 'always'; monitor: boolean };

export const updateCommand: CommandModule<object, Args> = {
  command: 'update <config> <component>',
  describe: 'start the new version beside the old, switch traffic once it is ready, drain and stop the old',
  builder: (y) =>
    withMonitorOption(withLocalOptions(y))
      .option('tag', { type: 'string', describe: "run this tag instead of the config's" })
      .option('pull', { choices: ['missing', 'always'] as const, describe: 'pull the image only when missing, or always (default: always for "latest")' }) as never,
  handler: (args) =>
    runVerb(args.json, async (reporter, signal) => {
      const { deps, ctx, config } = openLocalEngine(args);
      const summary = await updateComponent(deps, ctx, { config, component: args.component, tag: args.tag, pull: args.pull, onEvent: reporter.event, signal });
      const drainNote = summary.retired.map((r) => (r.drained ? `${r.container.slice(0, 12)} drained` : `${r.container.slice(0, 12)}: ${r.closedConnections} connection(s) closed at the drain deadline`));
      reporter.result({ ok: true, ...summary }, [
        summary.unchanged
          ? `done     ${summary.component} ${summary.version} already serving (${summary.container.slice(0, 12)}); nothing started`
          : `done     ${summary.component} ${summary.version} serving on ${summary.container.slice(0, 12)}${drainNote.length ? `; ${drainNote.join('; ')}` : ''}`,
        `phases   ${formatTimings(summary.timings)}`,
      ]);
      if (args.monitor) await monitorComponent(deps, ctx, { config, component: args.component, onEvent: reporter.event, signal });
    }),
};
