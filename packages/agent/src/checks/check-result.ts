import type { CheckKind } from '@gantry/spec';

/** How one attempt of a check went, before it is stamped with the check's name and timing. */
export interface CheckOutcome {
  ok: boolean;
  /** One line for people: what was tried and what came back, e.g. "GET http://127.0.0.1:49153/ready → 503". */
  detail: string;
}

/** One attempt of one check against one container. */
export interface CheckResult extends CheckOutcome {
  /** The check's title (its `id`, else its kind). */
  check: string;
  kind: CheckKind;
  /** How long the attempt took, ms (fractional). */
  durationMs: number;
  /** When the attempt started. */
  at: Date;
}
