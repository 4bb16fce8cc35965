import { listComponent } from '@gantry/agent';
import type { CommandModule } from 'yargs';
import { openLocalEngine } from '../../local-engine';
import { withLocalOptions, type LocalArgs } from '../../local-options';
import { renderTable } from '../../table';
import { runVerb } from '../../run-verb';

export const listCommand: CommandModule<object, LocalArgs> = {
  command: 'list <config> <component>',
  describe: "the component's containers on this host: version, role, health, live connections",
  builder: (y) => withLocalOptions(y) as never,
  handler: (args) =>
    runVerb(args.json, async (reporter) => {
      const { deps, ctx, config } = openLocalEngine(args);
      const rows = await listComponent(deps, ctx, config, args.component);
      const now = Date.now();
      reporter.result({ component: args.component, containers: rows }, [
        renderTable(
          ['CONTAINER', 'VERSION', 'ROLE', 'STATE', 'HEALTH', 'CONNECTIONS', 'UP'],
          rows.map((r) => [r.id.slice(0, 12), r.version, r.role, r.state, r.health, String(r.liveConnections), r.startedAt ? `${Math.round((now - r.startedAt.getTime()) / 1000)}s` : '-']),
        ),
      ]);
    }),
};
