import {
  DockerCallAbortedError,
  DockerUnavailableError,
  dockerUnavailable,
  inactivityTimer,
  isDockerCallAborted,
  isUnreachableError,
  withDockerDeadline,
} from './docker-deadline';

const where = 'unix:///tmp/x/docker.sock';
const never = <T>(seen: AbortSignal[]) => (signal: AbortSignal) => {
  seen.push(signal);
  return new Promise<T>(() => undefined);
};
const errno = (code: string, message = `connect ${code} /tmp/x/docker.sock`) => Object.assign(new Error(message), { code });

describe('withDockerDeadline', () => {
  it('passes an answer through', async () => {
    await expect(withDockerDeadline({ op: 'list containers', timeoutMs: 1_000, where }, async () => 42)).resolves.toBe(42);
  });

  it('a docker that does not answer fails with DockerUnavailableError naming the call, the time and the socket, and aborts the request', async () => {
    const seen: AbortSignal[] = [];
    const started = Date.now();
    const err = await withDockerDeadline({ op: 'list containers', timeoutMs: 50, where }, never(seen)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DockerUnavailableError);
    expect((err as Error).message).toBe(`docker unavailable: docker did not answer list containers within 50 ms at ${where}`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(seen[0].aborted).toBe(true);
  });

  it("the caller's signal cancels at once, and a signal already aborted makes no call", async () => {
    const seen: AbortSignal[] = [];
    const controller = new AbortController();
    const run = withDockerDeadline({ op: 'inspect container abc', timeoutMs: 60_000, where, signal: controller.signal }, never(seen));
    controller.abort();
    await expect(run).rejects.toBeInstanceOf(DockerCallAbortedError);
    expect(seen[0].aborted).toBe(true);

    let called = false;
    await expect(
      withDockerDeadline({ op: 'x', timeoutMs: 1_000, where, signal: controller.signal }, async () => {
        called = true;
      }),
    ).rejects.toThrow('docker x cancelled');
    expect(called).toBe(false);
  });

  it('a docker that cannot be reached is unavailable too; an answer with an HTTP status is not', async () => {
    const refused = await withDockerDeadline({ op: 'list containers', timeoutMs: 1_000, where }, () => Promise.reject(errno('ECONNREFUSED'))).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DockerUnavailableError);
    expect((refused as Error).message).toMatch(/^docker unavailable: cannot reach docker at unix:\/\/\/tmp\/x\/docker.sock for list containers: ECONNREFUSED/);

    const http = Object.assign(new Error('(HTTP code 404) no such container'), { statusCode: 404 });
    await expect(withDockerDeadline({ op: 'inspect', timeoutMs: 1_000, where }, () => Promise.reject(http))).rejects.toBe(http);
  });

  it('a call that throws synchronously rejects', async () => {
    await expect(
      withDockerDeadline({ op: 'x', timeoutMs: 1_000, where }, () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
  });
});

describe('error classification', () => {
  it('recognises connection failures', () => {
    for (const code of ['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE']) expect(isUnreachableError(errno(code))).toBe(true);
    expect(isUnreachableError(new Error('socket hang up'))).toBe(true);
    expect(isUnreachableError(Object.assign(new Error('no such file'), { code: 'ENOENT', statusCode: 500 }))).toBe(false);
    expect(isUnreachableError(new Error('bad parameter'))).toBe(false);
    expect(isUnreachableError('ECONNREFUSED')).toBe(false);
  });

  it('finds the unavailable docker or the cancel behind wrapping errors', () => {
    const root = DockerUnavailableError.timeout('list containers', 10, where);
    const wrapped = new Error(`cannot list containers: ${root.message}`, { cause: new Error('x', { cause: root }) });
    expect(dockerUnavailable(wrapped)).toBe(root);
    expect(dockerUnavailable(new Error('other'))).toBeUndefined();
    expect(dockerUnavailable(undefined)).toBeUndefined();
    expect(isDockerCallAborted(new Error('y', { cause: new DockerCallAbortedError('stop') }))).toBe(true);
    expect(isDockerCallAborted(wrapped)).toBe(false);
  });
});

describe('inactivityTimer', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('expires only after a whole timeout without a touch, once', () => {
    const expired = jest.fn();
    const timer = inactivityTimer(1_000, expired);
    jest.advanceTimersByTime(900);
    timer.touch();
    jest.advanceTimersByTime(900);
    timer.touch();
    jest.advanceTimersByTime(900);
    expect(expired).not.toHaveBeenCalled();
    jest.advanceTimersByTime(200);
    expect(expired).toHaveBeenCalledTimes(1);
    timer.touch(); // after expiry: stays expired
    jest.advanceTimersByTime(5_000);
    expect(expired).toHaveBeenCalledTimes(1);
  });

  it('stop() disarms it', () => {
    const expired = jest.fn();
    const timer = inactivityTimer(100, expired);
    timer.stop();
    jest.advanceTimersByTime(1_000);
    expect(expired).not.toHaveBeenCalled();
  });
});
