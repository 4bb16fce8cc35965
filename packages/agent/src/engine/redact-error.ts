import { redactSecrets } from '@gantry/spec';
import { truncateText } from '../agent/fit-status';
import { EngineError, asEngineError } from './errors';

/**
 * The most an engine error's text may take: container logs in it are for a hint of what went
 * wrong, not a copy of them (its head and its tail, the last lines, are kept).
 */
export const ERROR_TEXT_MAX_BYTES = 4096;

/** Log text fit to leave the engine: known secrets replaced with `***`, and cut to size. */
export function redactedText(text: string, secrets: Iterable<string>, maxBytes = ERROR_TEXT_MAX_BYTES): string {
  return truncateText(redactSecrets(text, secrets), maxBytes);
}

/**
 * An engine failure fit for status and logs: its message and its logs with every known secret
 * replaced and cut to size. Its cause stays (callers tell an unavailable docker by it) but is
 * never shown.
 */
export function redactedError(err: unknown, secrets: Iterable<string>): EngineError {
  const known = [...secrets];
  const e = asEngineError(err, 'runtime', 'update');
  const details = typeof e.details.logs === 'string' ? { ...e.details, logs: redactedText(e.details.logs, known) } : e.details;
  return new EngineError(e.code, redactedText(e.message, known), details, { cause: e.cause ?? err });
}
