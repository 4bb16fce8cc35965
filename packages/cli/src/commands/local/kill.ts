import { killComponent } from '@gantry/agent';
import type { CommandModule } from 'yargs';
import { openLocalEngine } from '../../local-engine';
import { withLocalOptions, type LocalArgs } from '../../local-options';
import { runVerb } from '../../run-verb';

export const killCommand: CommandModule<object, LocalArgs> = {
  command: 'kill <config> <component>',
  describe: 'remove every container of the component at once, closing its connections (no draining)',
  builder: (y) => withLocalOptions(y) as never,
  handler: (args) =>
    runVerb(args.json, async (reporter) => {
      const { deps, ctx, config } = openLocalEngine(args);
      const removed = await killComponent(deps, ctx, { config, component: args.component, onEvent: reporter.event });
      reporter.result({ ok: true, component: args.component, removed }, [`done     ${removed.length} container(s) of ${args.component} killed`]);
    }),
};
