import type { Check } from '@gantry/spec';
import { withinDeadline, type AttemptLimits } from './attempt-deadline';
import type { CheckOutcome } from './check-result';
import type { CheckTarget } from './check-target';
import { errorDetail } from './error-detail';

export type ExecCheck = Extract<Check, { kind: 'exec' }>;

/** How much of the end of a command's output a detail quotes. */
export const EXEC_OUTPUT_TAIL_CHARS = 200;

/** The command as one line: arguments with spaces or quotes are JSON-quoted. */
export function commandLine(command: readonly string[]): string {
  return command.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : JSON.stringify(arg))).join(' ');
}

/** The last `chars` characters of `output`, on one line ("…" marks a cut). */
export function outputTail(output: string, chars = EXEC_OUTPUT_TAIL_CHARS): string {
  const flat = output.replace(/\s+/g, ' ').trim();
  return flat.length > chars ? `…${flat.slice(-chars)}` : flat;
}

/** One attempt: run the command in the container; exit status 0 passes. */
export async function checkExec(check: ExecCheck, target: CheckTarget, limits: AttemptLimits): Promise<CheckOutcome> {
  const label = `exec ${commandLine(check.command)}`;
  try {
    const run = await withinDeadline(target.exec(check.command, Math.max(1, Math.round(limits.timeoutMs))), limits);
    if ('cut' in run) return { ok: false, detail: `${label} → ${run.cut}` };
    const { exitCode, output } = run.value;
    const tail = outputTail(output);
    return { ok: exitCode === 0, detail: `${label} → exit ${exitCode}${tail ? `: ${tail}` : ''}` };
  } catch (err) {
    return { ok: false, detail: `${label} → ${errorDetail(err)}` };
  }
}
