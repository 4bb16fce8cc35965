import { readFileSync } from 'node:fs';
import { parseJson, projectConfigSchema, type ProjectConfig } from '@gantry/spec';
import { CliError } from './cli-error';
import { ExitCode } from './exit-codes';

/**
 * Reads and validates a project config file; every problem is reported at once, with its path.
 * Also returns the text to store in etcd: the file's own JSON, pretty-printed — not the parsed
 * value, whose defaults and unit conversions are the reader's business.
 */
export function readConfigFile(path: string): { config: ProjectConfig; canonical: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read config ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, ExitCode.invalidInput);
  }
  const parsed = parseJson(projectConfigSchema, text, path);
  if (!parsed.ok) throw new CliError(parsed.error.message, ExitCode.invalidInput, { problems: parsed.error.problems });
  return { config: parsed.value, canonical: `${JSON.stringify(JSON.parse(text), null, 2)}\n` };
}

export function loadConfigFile(path: string): ProjectConfig {
  return readConfigFile(path).config;
}
