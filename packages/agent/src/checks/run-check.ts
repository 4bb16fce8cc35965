import { checkTitle, type Check } from '@gantry/spec';
import type { AttemptLimits } from './attempt-deadline';
import type { CheckOutcome, CheckResult } from './check-result';
import type { CheckTarget } from './check-target';
import { checkDocker } from './docker-check';
import { errorDetail } from './error-detail';
import { checkExec } from './exec-check';
import { checkHttp } from './http-check';
import { checkTcp } from './tcp-check';

/** Bounds for one attempt beyond the check's own `timeout`. */
export interface AttemptOptions {
  /** Cap on the attempt's time, ms, e.g. what is left of a ready timeout; the check's `timeout` applies when smaller. */
  maxTimeoutMs?: number;
  /** Cuts the attempt short; it then fails with detail "… aborted". */
  signal?: AbortSignal;
}

/**
 * Runs one attempt of `check` against `target`. Never rejects for a failing or unreachable
 * container: every failure is a result with `ok: false`. Termination checks of kind `connection`
 * are not checks on a container (the drain decides them): the type excludes them, and one passed
 * anyway is rejected with a TypeError.
 */
export async function runCheck(check: Check, target: CheckTarget, options: AttemptOptions = {}): Promise<CheckResult> {
  if ((check as { kind: string }).kind === 'connection') {
    throw new TypeError('a "connection" termination check counts live proxy connections: the drain runs it, not runCheck');
  }
  const at = new Date();
  const started = performance.now();
  const limits: AttemptLimits = {
    timeoutMs: Math.max(0, Math.min(check.timeout * 1000, options.maxTimeoutMs ?? Infinity)),
    signal: options.signal,
  };
  let outcome: CheckOutcome;
  try {
    outcome = await attempt(check, target, limits);
  } catch (err) {
    outcome = { ok: false, detail: `${check.kind} check failed: ${errorDetail(err)}` };
  }
  const durationMs = Math.round((performance.now() - started) * 10) / 10;
  return { check: checkTitle(check), kind: check.kind, ok: outcome.ok, detail: outcome.detail, durationMs, at };
}

async function attempt(check: Check, target: CheckTarget, limits: AttemptLimits): Promise<CheckOutcome> {
  if (limits.signal?.aborted) return { ok: false, detail: `${check.kind} check → aborted` };
  switch (check.kind) {
    case 'http':
    case 'https':
    case 'tcp': {
      const endpoint = target.endpoint(check.port);
      if (!endpoint) return { ok: false, detail: `container port ${check.port} is not published` };
      return check.kind === 'tcp' ? checkTcp(endpoint, limits) : checkHttp(check, endpoint, limits);
    }
    case 'exec':
      return checkExec(check, target, limits);
    case 'docker':
      return checkDocker(target, limits);
    default: {
      const unknown: never = check;
      throw new TypeError(`unknown check kind "${(unknown as { kind: string }).kind}"`);
    }
  }
}
