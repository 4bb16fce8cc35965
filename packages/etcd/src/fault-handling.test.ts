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
});
