import { armDeadline, withinDeadline } from './attempt-deadline';

describe('armDeadline', () => {
  it('reports the timeout once', async () => {
    const reasons: string[] = [];
    await new Promise<void>((resolve) =>
      armDeadline({ timeoutMs: 10 }, (reason) => {
        reasons.push(reason);
        resolve();
      }),
    );
    expect(reasons).toEqual(['timed out after 10 ms']);
  });

  it('reports an abort, even one that happened before it was armed (on a microtask)', async () => {
    const abort = new AbortController();
    const later = new Promise((resolve) => armDeadline({ timeoutMs: 10_000, signal: abort.signal }, resolve));
    abort.abort();
    expect(await later).toBe('aborted');

    let called = false;
    const early = new Promise((resolve) =>
      armDeadline({ timeoutMs: 10_000, signal: AbortSignal.abort() }, (reason) => {
        called = true;
        resolve(reason);
      }),
    );
    expect(called).toBe(false);
    expect(await early).toBe('aborted');
  });

  it('never reports after disarm', async () => {
    const abort = new AbortController();
    let called = false;
    const disarm = armDeadline({ timeoutMs: 0, signal: abort.signal }, () => (called = true));
    disarm();
    abort.abort();
    await new Promise((resolve) => setImmediate(resolve));
    expect(called).toBe(false);
  });
});

describe('withinDeadline', () => {
  it('gives the value, the cut reason, or the rejection', async () => {
    expect(await withinDeadline(Promise.resolve(7), { timeoutMs: 1000 })).toEqual({ value: 7 });
    expect(await withinDeadline(new Promise(() => undefined), { timeoutMs: 5 })).toEqual({ cut: 'timed out after 5 ms' });
    await expect(withinDeadline(Promise.reject(new Error('boom')), { timeoutMs: 1000 })).rejects.toThrow('boom');
  });

  it('ignores a rejection that comes after the cut', async () => {
    let reject!: (err: Error) => void;
    const work = new Promise<never>((_, r) => (reject = r));
    expect(await withinDeadline(work, { timeoutMs: 1 })).toEqual({ cut: 'timed out after 1 ms' });
    reject(new Error('late')); // would fail the test run if it were unhandled
  });
});
