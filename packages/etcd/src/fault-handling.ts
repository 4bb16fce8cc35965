import { GRPCDeadlineExceededError, isRecoverableError, type IOptions } from 'etcd3';

/**
 * etcd3's fault handling, replaced. Its defaults hurt a small cluster: the per-host circuit breaker
 * opens after three failures and then refuses every call for 5 s — measured: after etcd came back,
 * calls kept failing with "circuit breaker is open" for up to 5 s — and the watch stream's reconnect
 * backoff grows to 30 s. These policies keep the same shape with short, bounded waits.
 *
 * etcd3 types these as cockatiel policies but only ever calls `execute` (1.1.2: connection-pool.js),
 * so small structural implementations suffice and Gantry does not depend on cockatiel itself.
 */
type FaultHandling = NonNullable<IOptions['faultHandling']>;
type Etcd3HostPolicy = ReturnType<NonNullable<FaultHandling['host']>>;
type Etcd3GlobalPolicy = NonNullable<FaultHandling['global']>;
type Etcd3WatchBackoff = NonNullable<FaultHandling['watchBackoff']>;

type PolicyFn<T> = (context: { signal: AbortSignal }) => PromiseLike<T> | T;
const neverAborted = new AbortController().signal;
const noEvent = () => ({ dispose: () => undefined });

/** Raised instead of calling a host whose breaker is open. Not recoverable, so etcd3 does not retry it. */
export class EtcdHostUnavailableError extends Error {
  constructor(
    readonly host: string,
    readonly failures: number,
    readonly retryInMs: number,
  ) {
    super(`etcd host ${host} failed ${failures} calls in a row; not calling it for another ${retryInMs} ms`);
    this.name = 'EtcdHostUnavailableError';
  }
}

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. Default 3. */
  threshold?: number;
  /** How long an open breaker refuses calls (ms). Default 1000 (etcd3's default is 5000). */
  openMs?: number;
  now?: () => number;
}

/**
 * Per-host breaker: after `threshold` consecutive recoverable failures it refuses calls for `openMs`,
 * then lets calls through again (one more failure re-opens it, a success closes it). With several
 * endpoints this steers calls away from a dead member fast; with one it fails fast for at most a second.
 */
export class HostCircuitBreaker {
  private readonly threshold: number;
  private readonly openMs: number;
  private readonly now: () => number;
  private failures = 0;
  private openUntil = 0;

  constructor(
    readonly host: string,
    opts: CircuitBreakerOptions = {},
  ) {
    this.threshold = opts.threshold ?? 3;
    this.openMs = opts.openMs ?? 1000;
    this.now = opts.now ?? Date.now;
  }

  get isOpen(): boolean {
    return this.failures >= this.threshold && this.now() < this.openUntil;
  }

  async execute<T>(fn: PolicyFn<T>): Promise<T> {
    if (this.isOpen) throw new EtcdHostUnavailableError(this.host, this.failures, this.openUntil - this.now());
    try {
      const value = await fn({ signal: neverAborted });
      this.failures = 0;
      return value;
    } catch (err) {
      if (isRecoverable(err)) {
        this.failures++;
        if (this.failures >= this.threshold) this.openUntil = this.now() + this.openMs;
      }
      throw err;
    }
  }
}

/**
 * Global policy: retries a recoverable failure right away (etcd3 picks another host for each attempt),
 * up to `maxAttempts` in all — but never a deadline-exceeded call, whose time budget is already spent,
 * so a call takes at most about one call deadline rather than three.
 */
export class RetryPolicy {
  constructor(readonly maxAttempts: number) {
    if (!(maxAttempts >= 1)) throw new RangeError(`maxAttempts must be >= 1 (got ${maxAttempts})`);
  }

  async execute<T>(fn: PolicyFn<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn({ signal: neverAborted });
      } catch (err) {
        if (attempt >= this.maxAttempts || !isRetryable(err)) throw err;
      }
    }
  }
}

/** A network or server error that etcd3 would reset the connection for (UNAVAILABLE, a dropped stream...). */
export function isRecoverable(err: unknown): boolean {
  return err instanceof Error && isRecoverableError(err);
}

export function isRetryable(err: unknown): boolean {
  return isRecoverable(err) && !(err instanceof GRPCDeadlineExceededError);
}

/** etcd3's backoff interface as an immutable chain: minMs, 2×minMs, … capped at maxMs. */
export function cappedBackoff(minMs: number, maxMs: number, attempt = 0): Etcd3WatchBackoff {
  return {
    duration: Math.min(maxMs, minMs * 2 ** attempt),
    next: () => cappedBackoff(minMs, maxMs, minMs * 2 ** attempt >= maxMs ? attempt : attempt + 1),
  } as Etcd3WatchBackoff;
}

export interface FaultHandlingOptions {
  /** How many endpoints the client has (sets how many attempts a call gets). */
  hosts: number;
  breaker?: Omit<CircuitBreakerOptions, 'now'>;
  /** Reconnect backoff of etcd3's own watch stream. Default 100 ms → 5 s. */
  watchBackoff?: { minMs: number; maxMs: number };
}

/** The `faultHandling` option for `new Etcd3(...)`. */
export function faultHandling(opts: FaultHandlingOptions): FaultHandling {
  const asPolicy = <P>(p: { execute: <T>(fn: PolicyFn<T>) => Promise<T> }): P =>
    ({ execute: p.execute.bind(p), onSuccess: noEvent, onFailure: noEvent }) as unknown as P;
  const { minMs, maxMs } = opts.watchBackoff ?? { minMs: 100, maxMs: 5000 };
  return {
    host: (host: string) => asPolicy<Etcd3HostPolicy>(new HostCircuitBreaker(host, opts.breaker)),
    global: asPolicy<Etcd3GlobalPolicy>(new RetryPolicy(Math.max(2, opts.hosts))),
    watchBackoff: cappedBackoff(minMs, maxMs),
  };
}
