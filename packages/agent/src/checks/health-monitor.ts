import { checkTitle, type Check } from '@gantry/spec';
import type { CheckResult } from './check-result';
import type { CheckTarget } from './check-target';
import { runCheck } from './run-check';

/** Pause between health-check rounds when no check sets `interval`, seconds. */
export const DEFAULT_HEALTH_INTERVAL_S = 5;

export type HealthState = 'healthy' | 'unhealthy' | 'unknown';

export interface HealthStatus {
  /** 'unknown' until a round passes or the failure threshold is reached. */
  state: HealthState;
  /** Consecutive failing rounds (a round fails when any check is failing). */
  consecutiveFailures: number;
  /** Titles of the checks failing now: at least their `retries` consecutive failed attempts. */
  failingChecks: string[];
  /** Each check's latest attempt, in the order of the checks. */
  lastResults: CheckResult[];
  /** When the latest round completed; undefined before the first. */
  checkedAt: Date | undefined;
}

/** The timer functions the monitor schedules rounds with; injectable so tests can step rounds. */
export interface MonitorTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface HealthMonitorOptions {
  /** Round interval for checks without `interval`, seconds. Default {@link DEFAULT_HEALTH_INTERVAL_S}. */
  defaultIntervalS?: number;
  /** Consecutive failing rounds before the container is unhealthy (the component's `healthFailureThreshold`). */
  failureThreshold: number;
  /** Told when `state` or `consecutiveFailures` changes. */
  onChange?(status: HealthStatus): void;
  /** Told once when the container turns unhealthy; again only after it has recovered in between. */
  onUnhealthy?(status: HealthStatus): void;
  /** Milliseconds clock for scheduling and `checkedAt`. Default Date.now. */
  now?: () => number;
  timers?: MonitorTimers;
}

const realTimers: MonitorTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Runs a container's health checks in rounds until stopped. Rounds start every interval (the
 * smallest of the checks', default `defaultIntervalS`), the first at `start()`; a round that takes
 * longer is followed at once, never overlapped. Checks in a round run in parallel, each bounded by
 * its own timeout. A check is failing after `retries` consecutive failed attempts; a round fails
 * when any check is failing; `failureThreshold` consecutive failing rounds make the container
 * unhealthy, and a round with no failing check makes it healthy again. With no checks the
 * container is healthy from the start and nothing is scheduled. Callbacks must not throw (a throw
 * is caught so the monitor keeps running).
 */
export class HealthMonitor {
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly timers: MonitorTimers;
  private readonly failedAttempts: number[];
  private readonly latest: (CheckResult | undefined)[];
  private state: HealthState = 'unknown';
  private failingRounds = 0;
  private checkedAt: Date | undefined;
  private timer: { handle: unknown } | undefined;
  private round: { abort: AbortController; done: Promise<void> } | undefined;
  private started = false;
  private stopped = false;

  constructor(
    private readonly checks: readonly Check[],
    private readonly target: CheckTarget,
    private readonly options: HealthMonitorOptions,
  ) {
    for (const check of checks) {
      if ((check as { kind: string }).kind === 'connection') throw new TypeError('a "connection" check is not a health check');
    }
    const defaultIntervalS = options.defaultIntervalS ?? DEFAULT_HEALTH_INTERVAL_S;
    this.intervalMs = checks.length ? Math.min(...checks.map((check) => (check.interval ?? defaultIntervalS) * 1000)) : Infinity;
    this.now = options.now ?? Date.now;
    this.timers = options.timers ?? realTimers;
    this.failedAttempts = checks.map(() => 0);
    this.latest = checks.map(() => undefined);
  }

  /** Starts the rounds (the first at once). Calling it again does nothing; after `stop()` it throws. */
  start(): this {
    if (this.stopped) throw new Error('HealthMonitor: start() after stop()');
    if (this.started) return this;
    this.started = true;
    if (this.checks.length === 0) {
      this.state = 'healthy';
      this.checkedAt = new Date(this.now());
      this.notify(this.options.onChange);
    } else {
      void this.runRound();
    }
    return this;
  }

  status(): HealthStatus {
    return {
      state: this.state,
      consecutiveFailures: this.failingRounds,
      failingChecks: this.checks.filter((check, i) => this.failedAttempts[i] >= check.retries).map(checkTitle),
      lastResults: this.latest.filter((result): result is CheckResult => result !== undefined),
      checkedAt: this.checkedAt,
    };
  }

  /**
   * Stops at once: no further rounds or callbacks, the pending timer cleared, in-flight attempts
   * cut. The promise resolves when the cut round has wound down (its sockets closed).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) this.timers.clearTimeout(this.timer.handle);
    this.timer = undefined;
    const round = this.round;
    round?.abort.abort();
    await round?.done;
  }

  private async runRound(): Promise<void> {
    if (this.stopped) return;
    const roundStart = this.now();
    const abort = new AbortController();
    const done = Promise.all(this.checks.map((check) => runCheck(check, this.target, { signal: abort.signal }))).then(
      (results) => (this.stopped ? undefined : this.record(results)),
      () => undefined, // runCheck does not reject for a container's failures; connection checks were refused above
    );
    this.round = { abort, done };
    await done;
    this.round = undefined;
    if (this.stopped) return;
    const delayMs = Math.max(0, roundStart + this.intervalMs - this.now());
    const timer = { handle: undefined as unknown };
    this.timer = timer;
    timer.handle = this.timers.setTimeout(() => {
      if (this.timer === timer) this.timer = undefined;
      void this.runRound();
    }, delayMs);
  }

  private record(results: CheckResult[]): void {
    results.forEach((result, i) => {
      this.latest[i] = result;
      this.failedAttempts[i] = result.ok ? 0 : this.failedAttempts[i] + 1;
    });
    const before = { state: this.state, failingRounds: this.failingRounds };
    const failing = this.checks.some((check, i) => this.failedAttempts[i] >= check.retries);
    this.failingRounds = failing ? this.failingRounds + 1 : 0;
    if (!failing) this.state = 'healthy';
    else if (this.failingRounds >= this.options.failureThreshold) this.state = 'unhealthy';
    this.checkedAt = new Date(this.now());

    if (this.state !== before.state || this.failingRounds !== before.failingRounds) this.notify(this.options.onChange);
    if (this.state === 'unhealthy' && before.state !== 'unhealthy') this.notify(this.options.onUnhealthy);
  }

  private notify(callback: ((status: HealthStatus) => void) | undefined): void {
    try {
      callback?.(this.status());
    } catch {
      // A broken listener must not stop the monitoring it listens to.
    }
  }
}
