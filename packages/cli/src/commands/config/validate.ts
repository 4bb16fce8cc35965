import type { CommandModule } from 'yargs';
import { loadHostPolicy, PolicyFileError } from '@gantry/agent';
import { configWarnings, describeViolation, evaluateConfig } from '@gantry/spec';
import { CliError } from '../../cli-error';
import { ExitCode } from '../../exit-codes';
import { withJsonOption } from '../../fleet/fleet-options';
import { loadConfigFile, setconfigOption } from '../../load-config';
import { runVerb } from '../../run-verb';

type Args = { file: string; json: boolean; policy?: string; setconfig: string[] };

export const configValidateCommand: CommandModule<object, Args> = {
  command: 'validate <file>',
  describe: 'check a config file (every problem at once, with its path); needs no etcd',
  builder: (y) =>
    withJsonOption(y)
      .positional('file', { type: 'string', demandOption: true, describe: "the project's config file (JSON)" })
      .option('setconfig', setconfigOption)
      .option('policy', { type: 'string', describe: "also check it against a host's policy file (paths as written: symlinks are the host's to resolve)" }) as never,
  handler: (args) =>
    runVerb(args.json, async (reporter) => {
      const config = loadConfigFile(args.file, args.setconfig);
      const names = config.components.map((c) => c.name);
      let policySource: string | undefined;
      if (args.policy !== undefined) {
        let loaded;
        try {
          loaded = loadHostPolicy(args.policy, { required: true });
        } catch (err) {
          if (err instanceof PolicyFileError) throw new CliError(err.message, ExitCode.invalidInput);
          throw err;
        }
        policySource = loaded.source;
        const violations = evaluateConfig(config, loaded.policy);
        if (violations.length > 0) {
          throw new CliError(`${args.file} is refused by the host policy ${args.policy}:\n${violations.map((v) => `  - ${describeViolation(v)}`).join('\n')}`, ExitCode.invalidInput, {
            problems: violations.map((v) => ({ path: v.path, rule: v.rule, message: v.message })),
          });
        }
      }
      // Without a host's policy: valid, but say what the default policy refuses and what looks like a leaked secret.
      const warnings = policySource ? [] : configWarnings(config);
      const against = policySource ? ` and allowed by ${policySource}` : '';
      reporter.result({ ok: true, file: args.file, components: names, ...(policySource && { policy: policySource }), warnings }, [
        `${args.file} is valid${against}: ${names.length} component(s): ${names.join(', ')}`,
        ...(warnings.length ? [`warnings (check against a host's policy with --policy FILE):`, ...warnings.map((w) => `  - ${w.path}: ${w.message}`)] : []),
      ]);
    }),
};
