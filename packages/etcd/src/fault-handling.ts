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
 * Global policy: retries a recoverable failure right away, up to `maxAttempts` in all. etcd3's
 * `exec()` walks one shuffled order of the hosts per call, so each attempt goes to the next host,
 * and it resolves the call options inside each attempt, so each attempt gets a fresh deadline
 * (connectEtcd's default, or a `deadlineIn(ms)` of the caller, which is re-read per attempt).
 *
 * A call that ran out of time (DEADLINE_EXCEEDED) is retried only when there is another host to
 * try (`retryDeadlines`, set when the client has more than one endpoint): with one host the time
 * budget is spent and trying the same member again only doubles the wait; with several, the usual
 * cause is one member that cannot answer — isolated from the others, stuck in an election, or
 * gone without a RST — and the next member answers at once. A call then takes at most
 * `maxAttempts` deadlines.
 *
 * Retrying a write (put, delete, txn, lease grant) after a deadline is safe for Gantry, because:
 * - A timed-out write has an unknown outcome whether or not we retry: every caller already treats
 *   a failed write as "may or may not have applied" and retries or re-reads on its own (level-
 *   triggered). Retrying here adds no outcome a caller does not already handle; it only comes sooner.
 * - In the case this retry is for, the write did not apply: a member isolated from the quorum
 *   cannot commit anything, and drops proposals once it knows it has no leader. Only a proposal it
 *   had already forwarded to the leader before the cut may have committed — the same ambiguity as
 *   any timeout, and as an UNAVAILABLE after the request was sent, which etcd3 always retried.
 * - If it did apply, a second commit is harmless: puts and deletes are idempotent (same key, same
 *   value), and every transaction of Gantry is guarded by a compare (fenced writes, create-only
 *   keys, compare-and-set), so the second commit finds the compare false and applies nothing. Its
 *   caller must then take "compare failed" as "re-read": the value may be its own earlier commit
 *   (the lease keeper does: a key under one of its own leases is claimed, not a conflict). A duplicate
 *   lease grant leaves an orphan lease with no keys, which expires after its TTL.
 */
export class RetryPolicy {
  constructor(
    readonly maxAttempts: number,
    readonly opts: { retryDeadlines?: boolean } = {},
  ) {
    if (!(maxAttempts >= 1)) throw new RangeError(`maxAttempts must be >= 1 (got ${maxAttempts})`);
  }

  async execute<T>(fn: PolicyFn<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn({ signal: neverAborted });
      } catch (err) {
        if (attempt >= this.maxAttempts || !isRetryable(err, this.opts)) throw err;
      }
    }
  }
}

/** A network or server error that etcd3 would reset the connection for (UNAVAILABLE, a dropped stream...). */
export function isRecoverable(err: unknown): boolean {
  return err instanceof Error && isRecoverableError(err);
}

/** Worth another attempt on the next host: recoverable, and not a spent deadline unless `retryDeadlines`. */
export function isRetryable(err: unknown, opts: { retryDeadlines?: boolean } = {}): boolean {
  return isRecoverable(err) && (opts.retryDeadlines === true || !(err instanceof GRPCDeadlineExceededError));
}

/** etcd3's backoff interface as an immutable chain: minMs, 2×minMs, … capped at maxMs. */
export function cappedBackoff(minMs: number, maxMs: number, attempt = 0): Etcd3WatchBackoff {
  return {
    duration: Math.min(maxMs, minMs * 2 ** attempt),
    next: () => cappedBackoff(minMs, maxMs, minMs * 2 ** attempt >= maxMs ? attempt : attempt + 1),
  } as Etcd3WatchBackoff;
}

export interface FaultHandlingOptions {
  /**
   * How many endpoints the client has: a call gets one attempt per host (at least 2), and a call that
   * timed out is retried on the next host only when there is more than one.
   */
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
    global: asPolicy<Etcd3GlobalPolicy>(new RetryPolicy(Math.max(2, opts.hosts), { retryDeadlines: opts.hosts > 1 })),
    watchBackoff: cappedBackoff(minMs, maxMs),
  };
}
