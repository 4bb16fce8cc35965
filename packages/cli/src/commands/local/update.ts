import { monitorComponent, updateComponent, type Teardown, type TeardownResult } from '@gantry/agent';
import type { CommandModule } from 'yargs';
import { duration, formatTimings } from '../../format-event';
import { openLocalEngine } from '../../local-engine';
import { withLocalOptions, withMonitorOption, type LocalArgs } from '../../local-options';
import { ExitCode } from '../../exit-codes';
import { runVerb } from '../../run-verb';

type Args = LocalArgs & { tag?: string; pull?: 'missing' | 'always'; monitor: boolean; 'wait-teardown': boolean };

const short = (id: string) => id.slice(0, 12);

/** Interrupted during teardowns: says what is left to whom, and exits without waiting for Docker's answers. */
function exitLeaving(teardowns: Teardown[]): void {
  if (teardowns.length === 0) return;
  for (const t of teardowns) process.stderr.write(`interrupted: dockerd finishes the stop of ${short(t.container)} it was given; the next \`gantry local\` run on this host removes it\n`);
  // The stop calls in flight would hold this process until Docker answers them: it needs them no more.
  process.exit(ExitCode.interrupted);
}

/** True once `signal` aborts (Ctrl-C), false once `work` ends first. */
function aborted(work: Promise<unknown>, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(true);
  return Promise.race([work.then(() => false), new Promise<boolean>((resolve) => signal.addEventListener('abort', () => resolve(true), { once: true }))]);
}

export const updateCommand: CommandModule<object, Args> = {
  command: 'update <config> <component>',
  describe: 'start the new version beside the old, switch traffic once it is ready, drain and stop the old',
  builder: (y) =>
    withMonitorOption(withLocalOptions(y))
      .option('tag', { type: 'string', describe: "run this tag instead of the config's" })
      .option('pull', { choices: ['missing', 'always'] as const, describe: 'pull the image only when missing, or always (default: always for "latest")' })
      .option('wait-teardown', {
        type: 'boolean',
        default: false,
        describe: 'give the result once the old container is stopped and removed (default: once it is drained and out of the proxy; its stop goes on and a line says when it finished)',
      }) as never,
  handler: (args) =>
    runVerb(args.json, async (reporter, signal) => {
      const { deps, ctx, config } = openLocalEngine(args);
      const teardown = deps.teardown!;
      const summary = await updateComponent(deps, ctx, { config, component: args.component, tag: args.tag, pull: args.pull, onEvent: reporter.event, signal });
      let waited: TeardownResult[] = [];
      if (args['wait-teardown']) {
        const ended = teardown.settled(summary.teardown.map((t) => t.container));
        if (await aborted(ended, signal)) exitLeaving(teardown.list());
        waited = await ended;
      }
      const drainNote = summary.retired.map((r) => (r.drained ? `${short(r.container)} drained` : `${short(r.container)}: ${r.closedConnections} connection(s) closed at the drain deadline`));
      const failedTeardown = waited.find((t) => t.error !== undefined);
      reporter.result({ ok: failedTeardown === undefined, ...summary, ...(args['wait-teardown'] && { teardownResults: waited }) }, [
        summary.unchanged
          ? `done     ${summary.component} ${summary.version} already serving (${short(summary.container)}); nothing started`
          : `done     ${summary.component} ${summary.version} serving on ${short(summary.container)}${drainNote.length ? `; ${drainNote.join('; ')}` : ''}`,
        `phases   ${formatTimings(summary.timings)}`,
        ...(args['wait-teardown']
          ? waited.map((t) => (t.error ? `teardown of ${short(t.container)} FAILED after ${duration(t.elapsedMs)}: ${t.error}` : `teardown of ${short(t.container)} finished in ${duration(t.elapsedMs)}`))
          : summary.teardown.map((t) => `teardown ${short(t.container)}: stopping in the background (stop timeout ${duration(t.stopTimeoutMs)}); a line says when it finished`)),
      ]);
      if (failedTeardown) process.exitCode = ExitCode.unavailable;
      // The old container's stop goes on beside the monitor, or alone: its end is printed (the
      // teardown-done event), and the command exits then.
      const monitoring = args.monitor ? monitorComponent(deps, ctx, { config, component: args.component, onEvent: reporter.event, signal }) : Promise.resolve();
      const interrupted = await aborted(teardown.settled(), signal);
      await monitoring;
      if (interrupted) exitLeaving(teardown.list());
    }),
};
