import { readFileSync } from 'node:fs';
import { applyConfigOverrides, ConfigOverrideError, parseConfigOverride, parseJson, parseValue, projectConfigSchema, type ProjectConfig } from '@gantry/spec';
import { CliError } from './cli-error';
import { ExitCode } from './exit-codes';

/**
 * Reads and validates a project config file; every problem is reported at once, with its path.
 * Also returns the text to store in etcd: the file's own JSON, pretty-printed — not the parsed
 * value, whose defaults and unit conversions are the reader's business.
 */
export function readConfigFile(path: string, setconfig: readonly string[] = []): { config: ProjectConfig; canonical: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read config ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, ExitCode.invalidInput);
  }
  if (setconfig.length === 0) {
    const parsed = parseJson(projectConfigSchema, text, path);
    if (!parsed.ok) throw new CliError(parsed.error.message, ExitCode.invalidInput, { problems: parsed.error.problems });
    return { config: parsed.value, canonical: `${JSON.stringify(JSON.parse(text), null, 2)}\n` };
  }
  // --setconfig: the file's JSON with the overrides applied, then validated (and stored) as one.
  let raw: unknown;
  try {
    raw = applyConfigOverrides(JSON.parse(text), setconfig.map(parseConfigOverride));
  } catch (err) {
    if (err instanceof ConfigOverrideError) throw new CliError(err.message, ExitCode.invalidInput, { override: err.override });
    if (err instanceof SyntaxError) return readConfigFile(path); // the file's own JSON error, as without overrides
    throw err;
  }
  const parsed = parseValue(projectConfigSchema, raw, `${path} with --setconfig ${setconfig.join(' ')}`);
  if (!parsed.ok) throw new CliError(parsed.error.message, ExitCode.invalidInput, { problems: parsed.error.problems });
  return { config: parsed.value, canonical: `${JSON.stringify(raw, null, 2)}\n` };
}

export function loadConfigFile(path: string, setconfig: readonly string[] = []): ProjectConfig {
  return readConfigFile(path, setconfig).config;
}

/** `--setconfig NAME.FIELD=VALUE` (repeatable), as Gantryd's: for verbs that read a config file. */
export const setconfigOption = {
  type: 'string',
  array: true,
  default: [] as string[],
  describe: 'override a field of a component: NAME.FIELD=VALUE (web.tag=v2, web.ports.0.external=8080; VALUE is JSON when it parses, else text); repeatable; validated like the file',
} as const;
