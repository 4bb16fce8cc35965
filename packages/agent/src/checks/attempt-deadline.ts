/** What bounds one attempt: its time budget and, optionally, a signal that cuts it short. */
export interface AttemptLimits {
  timeoutMs: number;
  signal?: AbortSignal;
}

/** "timed out after 3000 ms", "aborted": why an attempt ended before its work did. */
export type AttemptCutReason = string;

/**
 * Calls `onCut` once when the attempt's time runs out or its signal aborts, whichever is first.
 * Returns `disarm`, which the attempt calls when it settles first so no timer or listener is left.
 * An already-aborted signal is reported on a microtask, never synchronously.
 */
export function armDeadline(limits: AttemptLimits, onCut: (reason: AttemptCutReason) => void): () => void {
  const { signal } = limits;
  const timeoutMs = Math.max(0, limits.timeoutMs);
  let armed = true;
  const cut = (reason: AttemptCutReason) => {
    if (!armed) return;
    disarm();
    onCut(reason);
  };
  const onAbort = () => cut('aborted');
  const timer = setTimeout(() => cut(`timed out after ${Math.round(timeoutMs)} ms`), timeoutMs);
  signal?.addEventListener('abort', onAbort, { once: true });
  function disarm() {
    armed = false;
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
  if (signal?.aborted) queueMicrotask(onAbort);
  return disarm;
}

/**
 * Waits for `work` within `limits`: its value, or the reason it was cut. A rejection of `work`
 * before the cut rejects; one after it is ignored (never unhandled).
 */
export function withinDeadline<T>(work: Promise<T>, limits: AttemptLimits): Promise<{ value: T } | { cut: AttemptCutReason }> {
  return new Promise((resolve, reject) => {
    const disarm = armDeadline(limits, (reason) => resolve({ cut: reason }));
    work.then(
      (value) => {
        disarm();
        resolve({ value });
      },
      (err: unknown) => {
        disarm();
        reject(err);
      },
    );
  });
}
