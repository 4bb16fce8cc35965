import { hostname, userInfo } from 'node:os';
import { identifier } from '@gantry/spec';
import type { CommandModule } from 'yargs';
import { CliError } from '../cli-error';
import { ExitCode } from '../exit-codes';
import { layoutFor, valuesOf, withFleet } from '../fleet/fleet-client';
import { withFleetOptions, type FleetArgs } from '../fleet/fleet-options';
import { hostsFromEntries } from '../fleet/hosts-rows';
import { desiredValue, planSetVersion, type SetVersionTarget } from '../fleet/set-version-plan';
import { runVerb } from '../run-verb';

type Args = FleetArgs & { component: string; tag: string; host?: string[]; all?: boolean; stop: boolean; force: boolean };

/** Attempts when etcd changes between the reads and the guarded transaction. */
const ATTEMPTS = 5;

/** Who is setting it: user@hostname. */
export function operator(): string {
  let user: string | undefined;
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (some containers)
  }
  return `${user || process.env.USER || process.env.LOGNAME || 'unknown'}@${hostname()}`;
}

function checkIdentifier(what: string, value: string): void {
  const ok = identifier.safeParse(value);
  if (!ok.success) throw new CliError(`invalid ${what} "${value}": ${ok.error.issues[0].message}`, ExitCode.invalidInput);
}

export const setVersionCommand: CommandModule<object, Args> = {
  command: 'set-version <component> <tag>',
  describe: 'set the version a component should run, on named hosts (--host) or on the whole fleet (--all)',
  builder: (y) =>
    withFleetOptions(y)
      .positional('component', { type: 'string', demandOption: true, describe: "a component of the project's stored config" })
      .positional('tag', { type: 'string', demandOption: true, describe: 'the image tag to run' })
      .option('host', { type: 'string', array: true, describe: 'pin this host to the version (repeatable)' })
      .option('all', { type: 'boolean', describe: 'set the fleet version, and remove every host pin of the component so all hosts follow it (one transaction)' })
      .option('stop', { type: 'boolean', default: false, describe: 'desired state "stopped": drain and remove the component instead of running it' })
      .option('force', { type: 'boolean', default: false, describe: 'with --host: write even for hosts that are not registered (yet)' })
      .conflicts('host', 'all') as never,
  handler: (args) =>
    runVerb(args.json, async (reporter) => {
      const keys = layoutFor(args);
      const project = args.project;
      const component = String(args.component);
      checkIdentifier('component', component);
      const hosts = [...new Set((args.host ?? []).map(String))];
      if (!args.all && !hosts.length) throw new CliError('name the hosts with --host ID (repeatable), or use --all for the whole fleet', ExitCode.invalidInput);
      for (const host of hosts) checkIdentifier('host id', host);
      const target: SetVersionTarget = args.all ? { all: true } : { hosts };
      const value = desiredValue({ version: String(args.tag), stop: args.stop, setBy: operator(), setAt: new Date() });
      const text = JSON.stringify(value);
      const hostOf = (key: string) => {
        const parsed = keys.parse(key);
        return parsed && 'host' in parsed ? parsed.host : key;
      };

      await withFleet(args, async (fleet) => {
        for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
          const stored = await fleet.readConfigWith(component);
          const snapshot = await fleet.readHosts();
          if (!target.all && !args.force) {
            const list = hostsFromEntries(keys, project, valuesOf(snapshot.entries));
            const registered = new Set([...list.hosts.map((h) => h.hostId), ...list.invalid.map((h) => h.host)]);
            const unknown = hosts.filter((h) => !registered.has(h));
            if (unknown.length) {
              throw new CliError(
                `unknown host${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')}: no registration under ${keys.hostsPrefix(project)} (e.g. ${keys.registration(project, unknown[0])}); use --force to write anyway`,
                ExitCode.invalidInput,
                { hosts: unknown },
              );
            }
          }
          const plan = planSetVersion({ keys, project, component, value: text, target, configModRevision: stored.modRevision, hostKeys: snapshot.entries });
          const result = await fleet.commit(plan);
          if (!result.succeeded) continue; // the config or a host pin changed meanwhile: check again
          const what = `${component} ${value.version}${args.stop ? ' (stopped)' : ''}`;
          reporter.result(
            { ok: true, project, component, version: value.version, state: value.state ?? 'running', value, wrote: plan.puts.map((p) => p.key), deleted: plan.deletes, revision: result.revision },
            [
              ...plan.puts.map((p) => `set      ${what} at ${p.key}`),
              ...plan.deletes.map((key) => `unpinned ${hostOf(key)}: deleted ${key} (it follows the fleet now)`),
              `revision ${result.revision}`,
            ],
          );
          return;
        }
        throw new CliError(`etcd kept changing under ${keys.project(project)} (the config or a host pin) during ${ATTEMPTS} attempts; nothing was written, try again`, ExitCode.failed);
      });
    }),
};
