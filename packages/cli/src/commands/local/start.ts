import { monitorComponent, updateComponent } from '@gantry/agent';
import type { CommandModule } from 'yargs';
import { formatTimings } from '../../format-event';
import { openLocalEngine } from '../../local-engine';
import { withLocalOptions, withMonitorOption, type LocalArgs } from '../../local-options';
import { runVerb } from '../../run-verb';

type Args = LocalArgs & { tag?: string; monitor: boolean };

export const startCommand: CommandModule<object, Args> = {
  command: 'start <config> <component>',
  describe: 'start the component when nothing of it serves yet (a running one is left as it is)',
  builder: (y) => withMonitorOption(withLocalOptions(y)).option('tag', { type: 'string', describe: "run this tag instead of the config's" }) as never,
  handler: (args) =>
    runVerb(args.json, async (reporter, signal) => {
      const { deps, ctx, config } = openLocalEngine(args);
      const summary = await updateComponent(deps, ctx, { config, component: args.component, tag: args.tag, ifNoneServing: true, onEvent: reporter.event, signal });
      reporter.result({ ok: true, ...summary }, [
        `done     ${summary.component} ${summary.version} ${summary.unchanged ? 'was already serving' : 'serving'} on ${summary.container.slice(0, 12)}`,
        `phases   ${formatTimings(summary.timings)}`,
      ]);
      if (args.monitor) await monitorComponent(deps, ctx, { config, component: args.component, onEvent: reporter.event, signal });
    }),
};
