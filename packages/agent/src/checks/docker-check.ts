import { withinDeadline, type AttemptLimits } from './attempt-deadline';
import type { CheckOutcome } from './check-result';
import type { CheckTarget } from './check-target';
import { errorDetail } from './error-detail';

/** One attempt: passes when Docker reports the image's own HEALTHCHECK as healthy. */
export async function checkDocker(target: CheckTarget, limits: AttemptLimits): Promise<CheckOutcome> {
  try {
    const run = await withinDeadline(target.dockerHealth(), limits);
    if ('cut' in run) return { ok: false, detail: `docker health → ${run.cut}` };
    if (run.value === 'none') return { ok: false, detail: 'image has no HEALTHCHECK' };
    return { ok: run.value === 'healthy', detail: `docker health → ${run.value}` };
  } catch (err) {
    return { ok: false, detail: `docker health → ${errorDetail(err)}` };
  }
}
