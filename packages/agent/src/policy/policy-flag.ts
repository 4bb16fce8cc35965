import { DEFAULT_POLICY_PATH } from '@gantry/spec';
import type { Logger } from '../agent/logger';
import { HostAdmission } from './host-admission';
import { loadHostPolicy, PolicyFileError } from './load-policy';

/** gantryd's exit code for a policy file it cannot use: bad usage, like any bad flag. */
export const EXIT_BAD_POLICY = 2;

export interface PolicyFlag {
  admission: HostAdmission;
  /** Reads the policy file again (SIGHUP); a file now unusable leaves the policy in force as it was, and says so. */
  reload(onChanged: () => void): void;
}

/**
 * `--policy PATH` (default /etc/gantry/policy.json, which may be absent) as gantryd uses it: read
 * before anything starts, and a file that cannot be read or is invalid stops gantryd (exit 2,
 * naming the file and the field) rather than run with a policy nobody wrote.
 */
export function hostAdmissionOrExit(flag: string | undefined, opts: { log: Logger; dockerHost?: string; stateDir?: string }): PolicyFlag {
  const path = flag ?? DEFAULT_POLICY_PATH;
  const load = () => loadHostPolicy(path, { required: flag !== undefined });
  let admission: HostAdmission;
  try {
    admission = new HostAdmission(load(), { dockerHost: opts.dockerHost, stateDir: opts.stateDir });
  } catch (err) {
    if (!(err instanceof PolicyFileError)) throw err;
    process.stderr.write(`gantryd: ${err.message}\n`);
    opts.log.error('refusing to start: the host policy cannot be used', { policy: path, error: err.message });
    process.exit(EXIT_BAD_POLICY);
  }
  opts.log.info('host policy', { policy: admission.source });
  return {
    admission,
    reload(onChanged) {
      try {
        admission.replace(load());
      } catch (err) {
        opts.log.error('host policy not reloaded: the one in force stays', { policy: path, error: (err as Error).message });
        return;
      }
      opts.log.info('host policy reloaded', { policy: admission.source });
      onChanged();
    },
  };
}
