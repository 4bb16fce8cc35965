import { stopComponent } from '@gantry/agent';
import type { CommandModule } from 'yargs';
import { openLocalEngine } from '../../local-engine';
import { withLocalOptions, type LocalArgs } from '../../local-options';
import { runVerb } from '../../run-verb';

export const stopCommand: CommandModule<object, LocalArgs> = {
  command: 'stop <config> <component>',
  describe: 'drain every container of the component (up to its drainTimeout), then stop and remove them',
  builder: (y) => withLocalOptions(y) as never,
  handler: (args) =>
    runVerb(args.json, async (reporter) => {
      const { deps, ctx, config } = openLocalEngine(args);
      const retired = await stopComponent(deps, ctx, { config, component: args.component, onEvent: reporter.event });
      reporter.result({ ok: true, component: args.component, retired }, [`done     ${retired.length} container(s) of ${args.component} drained and removed`]);
    }),
};
