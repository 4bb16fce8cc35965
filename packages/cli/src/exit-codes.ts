import type { EngineErrorCode } from '@gantry/agent';

/** Exit codes of every gantry verb; scripts may rely on them. */
export const ExitCode = {
  ok: 0,
  /** The operation ran and failed (e.g. the new version never got ready); what served still serves. */
  failed: 1,
  /** The request was wrong: usage, an invalid config, an unknown component. Nothing was touched. */
  invalidInput: 2,
  /** Something Gantry needs could not be reached or used: Docker, the proxy, etcd. */
  unavailable: 3,
  /** etcd refused the credentials: a key the user's roles do not grant, or a wrong user or password. Nothing was written. */
  denied: 4,
  /** Someone else holds the deploy lock (`gantry lock status`): nothing was written. */
  locked: 5,
  /** Interrupted by the operator (SIGINT/SIGTERM). */
  interrupted: 130,
} as const;

export function exitCodeFor(code: EngineErrorCode): number {
  // An exhaustive switch: a new error code fails to compile until it has an exit code.
  switch (code) {
    case 'invalid-input':
    case 'image':
    case 'refused':
    case 'secret-file':
      return ExitCode.invalidInput;
    case 'not-ready':
    // A required link's component has no serving container on the host: nothing was started.
    case 'link':
      return ExitCode.failed;
    case 'proxy':
    case 'runtime':
      return ExitCode.unavailable;
    case 'aborted':
      return ExitCode.interrupted;
    default:
      return code satisfies never;
  }
}
