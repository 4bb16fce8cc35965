import { readFileSync } from 'node:fs';
import { DEFAULT_POLICY_PATH, defaultHostPolicy, hostPolicySchema, parseJson, type HostPolicy } from '@gantry/spec';

/** A host policy and where it came from, for every message that cites it. */
export interface LoadedPolicy {
  policy: HostPolicy;
  /** `/etc/gantry/policy.json`, or `the default policy (no /etc/gantry/policy.json)`. */
  source: string;
}

/** A policy file gantryd must not run with: it exists but cannot be read, or is not a valid policy. gantryd exits 2. */
export class PolicyFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyFileError';
  }
}

/**
 * Reads the host's policy. No file at the default path: the default policy (which refuses what
 * gives root on the host). A file named with `--policy` must exist. A file that exists but cannot
 * be read, or is invalid, is an error naming the file (and the field): running on a guess of
 * what the operator meant could open the host.
 */
export function loadHostPolicy(path: string = DEFAULT_POLICY_PATH, opts: { required?: boolean; readFile?: (path: string) => string } = {}): LoadedPolicy {
  let text: string;
  try {
    text = (opts.readFile ?? ((p: string) => readFileSync(p, 'utf8')))(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !opts.required) return { policy: defaultHostPolicy(), source: `the default policy (no ${path})` };
    throw new PolicyFileError(`cannot read the host policy ${path}: ${code ?? (err as Error).message}${code === 'EACCES' ? ' (permission denied)' : ''}`);
  }
  const parsed = parseJson(hostPolicySchema, text, `the host policy ${path}`);
  if (!parsed.ok) throw new PolicyFileError(parsed.error.message);
  return { policy: parsed.value, source: path };
}
