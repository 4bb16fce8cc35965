/**
 * Deadlines for calls to the Docker daemon. A dockerd that is stopped (SIGSTOP), wedged or
 * restarting accepts connections on its socket and never answers; without a deadline every caller
 * (an update, the status, a shutdown) would wait for it forever.
 */

/** Docker did not answer in time, or could not be reached at all: its state is unknown. */
export class DockerUnavailableError extends Error {
  override readonly name = 'DockerUnavailableError';

  constructor(
    /** The call, e.g. "list containers". */
    readonly op: string,
    /** Where docker was asked: its socket or address. */
    readonly where: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`docker unavailable: ${detail}`, options);
  }

  static timeout(op: string, timeoutMs: number, where: string): DockerUnavailableError {
    return new DockerUnavailableError(op, where, `docker did not answer ${op} within ${timeoutMs} ms at ${where}`);
  }

  static unreachable(op: string, where: string, err: Error & { code?: string }): DockerUnavailableError {
    return new DockerUnavailableError(op, where, `cannot reach docker at ${where} for ${op}: ${err.code ? `${err.code} ` : ''}${err.message}`, { cause: err });
  }
}

/** The caller cancelled (its AbortSignal fired) before docker answered. */
export class DockerCallAbortedError extends Error {
  override readonly name = 'DockerCallAbortedError';

  constructor(readonly op: string) {
    super(`docker ${op} cancelled`);
  }
}

/** Connection-level failures: no daemon there, it went away mid-call, or the socket is not ours to use. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EACCES', 'ENOTSOCK']);

/** A dockerode/socket error that means docker could not be reached (rather than refused the call). */
export function isUnreachableError(err: unknown): err is Error & { code: string } {
  if (!(err instanceof Error)) return false;
  const e = err as Error & { code?: string; statusCode?: number };
  if (e.statusCode !== undefined) return false; // the daemon answered, with an HTTP status
  return (e.code !== undefined && UNREACHABLE_CODES.has(e.code)) || /socket hang up/i.test(e.message);
}

/** The DockerUnavailableError an error is or was caused by (through `cause`), if any. */
export function dockerUnavailable(err: unknown): DockerUnavailableError | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 10; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof DockerUnavailableError) return e;
  }
  return undefined;
}

/** True when an error is, or was caused by, a cancelled docker call. */
export function isDockerCallAborted(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 10; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof DockerCallAbortedError) return true;
  }
  return false;
}

export interface DeadlineOptions {
  /** The call, for the error: "inspect container 0123456789ab". */
  op: string;
  timeoutMs: number;
  /** Where docker is, for the error. */
  where: string;
  /** The caller's cancellation (an update's signal, the agent stopping). */
  signal?: AbortSignal;
}

/**
 * Runs one docker call under a deadline and the caller's signal. `call` gets a signal to hand to
 * dockerode (`abortSignal`), aborted when the deadline passes or the caller cancels, so the
 * request is torn down; the returned promise does not wait for that: it rejects at once, with
 * {@link DockerUnavailableError} on the deadline, {@link DockerCallAbortedError} on cancel. A call
 * that fails because docker cannot be reached rejects with DockerUnavailableError too.
 */
export function withDockerDeadline<T>(opts: DeadlineOptions, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const { op, timeoutMs, where, signal } = opts;
  if (signal?.aborted) return Promise.reject(new DockerCallAbortedError(op));
  const controller = new AbortController();
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = (f: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      f();
    };
    const timer = setTimeout(() => {
      const err = DockerUnavailableError.timeout(op, timeoutMs, where);
      settle(() => reject(err));
      controller.abort(err);
    }, timeoutMs);
    const onAbort = (): void => {
      const err = new DockerCallAbortedError(op);
      settle(() => reject(err));
      controller.abort(err);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    let pending: Promise<T>;
    try {
      pending = call(controller.signal);
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (value) => settle(() => resolve(value)),
      (err: unknown) => settle(() => reject(isUnreachableError(err) ? DockerUnavailableError.unreachable(op, where, err) : err)),
    );
  });
}

/**
 * A deadline on inactivity rather than total time (a pull may take long, but not in silence):
 * `onExpire` runs once when `touch()` has not been called for `timeoutMs`. `stop()` disarms it.
 */
export function inactivityTimer(timeoutMs: number, onExpire: () => void): { touch(): void; stop(): void } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    if (stopped) return;
    timer = setTimeout(() => {
      stopped = true;
      onExpire();
    }, timeoutMs);
  };
  arm();
  return {
    touch: arm,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
