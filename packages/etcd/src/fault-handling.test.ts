import { EtcdLeaseInvalidError, GRPCDeadlineExceededError, GRPCUnavailableError } from 'etcd3';
import { cappedBackoff, EtcdHostUnavailableError, faultHandling, HostCircuitBreaker, RetryPolicy } from './fault-handling';

const unavailable = () => new GRPCUnavailableError('14 UNAVAILABLE: connect ECONNREFUSED');

describe('HostCircuitBreaker', () => {
  it('opens after three consecutive recoverable failures, for openMs only', async () => {
    let now = 1000;
    const breaker = new HostCircuitBreaker('127.0.0.1:2379', { openMs: 1000, now: () => now });
    for (let i = 0; i < 3; i++) await expect(breaker.execute(() => Promise.reject(unavailable()))).rejects.toBeInstanceOf(GRPCUnavailableError);
    expect(breaker.isOpen).toBe(true);
    const called = jest.fn();
    await expect(breaker.execute(called)).rejects.toBeInstanceOf(EtcdHostUnavailableError);
    expect(called).not.toHaveBeenCalled();
    now += 1000;
    await expect(breaker.execute(() => 'ok')).resolves.toBe('ok');
    expect(breaker.isOpen).toBe(false);
  });

  it('does not count errors that are not the connection’s fault', async () => {
    const breaker = new HostCircuitBreaker('h');
    for (let i = 0; i < 5; i++) await expect(breaker.execute(() => Promise.reject(new EtcdLeaseInvalidError('1')))).rejects.toThrow();
    expect(breaker.isOpen).toBe(false);
  });

  it('a success in between resets the count', async () => {
    const breaker = new HostCircuitBreaker('h');
    await expect(breaker.execute(() => Promise.reject(unavailable()))).rejects.toThrow();
    await expect(breaker.execute(() => Promise.reject(unavailable()))).rejects.toThrow();
    await breaker.execute(() => 1);
    await expect(breaker.execute(() => Promise.reject(unavailable()))).rejects.toThrow();
    expect(breaker.isOpen).toBe(false);
  });
});

describe('RetryPolicy', () => {
  it('retries recoverable errors up to maxAttempts', async () => {
    const fn = jest.fn().mockRejectedValueOnce(unavailable()).mockResolvedValueOnce('ok');
    await expect(new RetryPolicy(2).execute(fn)).resolves.toBe('ok');
    const always = jest.fn().mockRejectedValue(unavailable());
    await expect(new RetryPolicy(3).execute(always)).rejects.toBeInstanceOf(GRPCUnavailableError);
    expect(always).toHaveBeenCalledTimes(3);
  });

  it('never retries a deadline that passed, nor a non-recoverable error', async () => {
    const late = jest.fn().mockRejectedValue(new GRPCDeadlineExceededError('4 DEADLINE_EXCEEDED'));
    await expect(new RetryPolicy(3).execute(late)).rejects.toBeInstanceOf(GRPCDeadlineExceededError);
    expect(late).toHaveBeenCalledTimes(1);
    const bad = jest.fn().mockRejectedValue(new Error('boom'));
    await expect(new RetryPolicy(3).execute(bad)).rejects.toThrow('boom');
    expect(bad).toHaveBeenCalledTimes(1);
  });
});

describe('RetryPolicy with several hosts (retryDeadlines)', () => {
  it('retries a call that timed out (on the next host), up to maxAttempts', async () => {
    const late = () => new GRPCDeadlineExceededError('4 DEADLINE_EXCEEDED');
    const fn = jest.fn().mockRejectedValueOnce(late()).mockResolvedValueOnce('ok');
    await expect(new RetryPolicy(3, { retryDeadlines: true }).execute(fn)).resolves.toBe('ok');
    expect(fn).toHaveBeenCalledTimes(2);
    const always = jest.fn().mockRejectedValue(late());
    await expect(new RetryPolicy(3, { retryDeadlines: true }).execute(always)).rejects.toBeInstanceOf(GRPCDeadlineExceededError);
    expect(always).toHaveBeenCalledTimes(3);
  });

  it('still never retries a non-recoverable error', async () => {
    const bad = jest.fn().mockRejectedValue(new EtcdLeaseInvalidError('1'));
    await expect(new RetryPolicy(3, { retryDeadlines: true }).execute(bad)).rejects.toBeInstanceOf(EtcdLeaseInvalidError);
    expect(bad).toHaveBeenCalledTimes(1);
  });
});

describe('cappedBackoff', () => {
  it('doubles up to the cap', () => {
    const durations: number[] = [];
    let b = cappedBackoff(100, 1000);
    for (let i = 0; i < 6; i++) {
      durations.push(b.duration);
      b = b.next(undefined);
    }
    expect(durations).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
});

describe('faultHandling', () => {
  it('gives etcd3 policies it can execute', async () => {
    const fh = faultHandling({ hosts: 1 });
    await expect(fh.global!.execute(() => 1)).resolves.toBe(1);
    await expect(fh.host!('h').execute(() => 2)).resolves.toBe(2);
    expect(fh.watchBackoff!.duration).toBe(100);
  });

  it('retries deadlines only with more than one host', async () => {
    const late = () => Promise.reject(new GRPCDeadlineExceededError('4 DEADLINE_EXCEEDED'));
    const one = jest.fn(late);
    await expect(faultHandling({ hosts: 1 }).global!.execute(one)).rejects.toBeInstanceOf(GRPCDeadlineExceededError);
    expect(one).toHaveBeenCalledTimes(1);
    const three = jest.fn(late);
    await expect(faultHandling({ hosts: 3 }).global!.execute(three)).rejects.toBeInstanceOf(GRPCDeadlineExceededError);
    expect(three).toHaveBeenCalledTimes(3);
  });
});
