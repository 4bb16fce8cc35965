/**
 * Why an operation failed, so callers can choose an exit code and say what was left as it was.
 * - `invalid-input`: the request itself is wrong (unknown component, bad tag): nothing was touched.
 * - `image`: the image could not be had (missing tag, registry refused): nothing was touched.
 * - `proxy`: the host's proxy could not serve the config (port taken, haproxy refused it).
 * - `not-ready`: the new container never passed its ready checks; it was removed, the old one kept serving.
 * - `runtime`: Docker refused or failed an operation.
 * - `aborted`: the caller cancelled; a new container that never took traffic was removed.
 * - `refused`: this host's policy refuses the component (a bind, privileged, …): nothing was touched,
 *   and trying again changes nothing until the config or the policy does.
 * - `secret-file`: a `valueFrom` file could not be read: no container was created.
 * - `link`: a required component link cannot be had on this host (its component has no serving
 *   container here, or the link has no address or port): no container was created.
 */
export type EngineErrorCode = 'invalid-input' | 'image' | 'proxy' | 'not-ready' | 'runtime' | 'aborted' | 'refused' | 'secret-file' | 'link';

export class EngineError extends Error {
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    /** Extra facts for the report, e.g. the failed container's last log lines. */
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EngineError';
  }
}

/** Wraps an unknown failure of one step as an EngineError of `code`, keeping its message. */
export function asEngineError(err: unknown, code: EngineErrorCode, context: string): EngineError {
  if (err instanceof EngineError) return err;
  const message = err instanceof Error ? err.message : String(err);
  // The cause is kept: callers tell an unavailable docker from a refusal by it (dockerUnavailable()).
  return new EngineError(code, `${context}: ${message}`, {}, { cause: err });
}
