import type { Check } from '@gantry/spec';
import type { CheckResult } from './check-result';
import type { CheckTarget } from './check-target';
import { runCheck } from './run-check';

/** Pause between ready-check rounds when no check sets `interval`, seconds. */
export const DEFAULT_READY_INTERVAL_S = 0.1;

/**
 * A round starts only with at least this much of the ready timeout left: a round cut after a
 * millisecond tells nothing, and its "timed out" results would hide the real last ones.
 */
export const MIN_ROUND_BUDGET_MS = 10;

/** The first pause between rounds; each next one doubles until the checks' interval. */
export const RAMP_START_MS = 10;

export interface ReadyGateOptions {
  /** Give up after this long, ms (the component's `readyTimeout`). */
  readyTimeoutMs: number;
  /** Stops the wait: it resolves with reason 'aborted' and in-flight attempts are cut. */
  signal?: AbortSignal;
  /** Told every attempt's result as it completes (not those cut short by abort or exit). */
  onAttempt?(result: CheckResult): void;
  /**
   * Asked once per round, alongside the checks (never two at once); `false` (the container exited)
   * ends the wait with reason 'exited' at once, cutting in-flight attempts. A rejection counts as alive.
   */
  isAlive?: () => Promise<boolean>;
}

export type ReadyOutcome =
  | { ready: true; attempts: number; elapsedMs: number; results: CheckResult[] }
  | { ready: false; reason: 'timeout' | 'aborted' | 'exited'; elapsedMs: number; lastResults: CheckResult[] };

/**
 * Waits until all `checks` pass in the same round. Rounds start every `interval` (the smallest of
 * the checks', default {@link DEFAULT_READY_INTERVAL_S}), ramping up to it from {@link RAMP_START_MS}; a round that takes longer is followed at
 * once. Checks in a round run in parallel, each bounded by its own timeout and by what is left of
 * `readyTimeoutMs` (no round starts with less than {@link MIN_ROUND_BUDGET_MS} left). Resolves as
 * soon as a round passes, without waiting for anything else (e.g. the `isAlive` probe). No checks:
 * ready at once. `attempts` counts rounds. Rejects only when `onAttempt` throws or a `connection`
 * check is passed against the types.
 */
export async function waitUntilReady(checks: readonly Check[], target: CheckTarget, options: ReadyGateOptions): Promise<ReadyOutcome> {
  const { signal, onAttempt, isAlive } = options;
  const started = performance.now();
  const deadline = started + options.readyTimeoutMs;
  const elapsedMs = () => Math.round((performance.now() - started) * 10) / 10;
  const latest = new Map<number, CheckResult>();
  const lastResults = () => [...latest.entries()].sort(([a], [b]) => a - b).map(([, result]) => result);
  const notReady = (reason: 'timeout' | 'aborted' | 'exited'): ReadyOutcome => ({ ready: false, reason, elapsedMs: elapsedMs(), lastResults: lastResults() });

  if (signal?.aborted) return notReady('aborted');
  if (checks.length === 0) return { ready: true, attempts: 0, elapsedMs: elapsedMs(), results: [] };
  const periodMs = Math.min(...checks.map((check) => (check.interval ?? DEFAULT_READY_INTERVAL_S) * 1000));

  // Ends the wait early, cutting in-flight attempts and the pause between rounds.
  const gate = new AbortController();
  let endedBy: 'aborted' | 'exited' | undefined;
  const end = (reason: 'aborted' | 'exited') => {
    endedBy ??= reason;
    gate.abort();
  };
  const onAbort = () => end('aborted');
  signal?.addEventListener('abort', onAbort, { once: true });
  let aliveProbe: Promise<void> | undefined;
  try {
    for (let attempts = 1; ; attempts += 1) {
      if (endedBy) return notReady(endedBy);
      const roundStart = performance.now();
      const remaining = deadline - roundStart;
      if (remaining < MIN_ROUND_BUDGET_MS) {
        if (remaining > 0) await pause(remaining, gate.signal);
        return notReady(endedBy ?? 'timeout');
      }

      if (isAlive && !aliveProbe) {
        // One probe at a time: a slow one spans rounds rather than piling up. A failing probe
        // means "unknown", not "exited": the checks and the timeout decide then.
        const probe = Promise.resolve().then(isAlive).then(
          (alive) => (alive ? undefined : end('exited')),
          () => undefined,
        );
        aliveProbe = probe.finally(() => (aliveProbe = undefined));
      }
      const results = await Promise.all(
        checks.map(async (check, index) => {
          const result = await runCheck(check, target, { maxTimeoutMs: remaining, signal: gate.signal });
          if (result.ok || !gate.signal.aborted) {
            latest.set(index, result);
            onAttempt?.(result);
          }
          return result;
        }),
      );
      if (results.every((result) => result.ok)) return { ready: true, attempts, elapsedMs: elapsedMs(), results };
      if (endedBy) return notReady(endedBy);

      // Ramp up to the interval (10, 20, 40 ms …): a fresh container is often ready within the
      // first interval, and waiting a whole one to notice is most of the `ready` phase.
      const roundPeriodMs = Math.min(periodMs, RAMP_START_MS * 2 ** (attempts - 1));
      const pauseMs = Math.min(roundStart + roundPeriodMs, deadline) - performance.now();
      if (pauseMs > 0) await pause(pauseMs, gate.signal);
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    gate.abort(); // cuts stragglers if onAttempt threw mid-round; a no-op otherwise
  }
}

/** Sleeps `ms`, or less if `signal` aborts. Leaves no timer or listener behind. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
