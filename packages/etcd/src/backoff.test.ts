import { Backoff } from './backoff';

describe('Backoff', () => {
  it('doubles from the minimum up to the cap, and starts over after reset', () => {
    const b = new Backoff({ minMs: 100, maxMs: 1000, jitter: 0 });
    expect(Array.from({ length: 7 }, () => b.next())).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('defaults to 100 ms → 5 s', () => {
    const b = new Backoff({ jitter: 0 });
    const delays = Array.from({ length: 10 }, () => b.next());
    expect(delays[0]).toBe(100);
    expect(delays[delays.length - 1]).toBe(5000);
  });

  it('jitters within ±jitter but never outside [min, max]', () => {
    const low = new Backoff({ minMs: 100, maxMs: 1000, jitter: 0.5, random: () => 0 });
    const high = new Backoff({ minMs: 100, maxMs: 1000, jitter: 0.5, random: () => 0.999999 });
    expect([low.next(), low.next(), low.next()]).toEqual([100, 100, 200]);
    expect([high.next(), high.next(), high.next(), high.next(), high.next()]).toEqual([150, 300, 600, 1000, 1000]);
  });

  it('rejects nonsense settings', () => {
    expect(() => new Backoff({ minMs: 0 })).toThrow(/minMs/);
    expect(() => new Backoff({ minMs: 10, maxMs: 5 })).toThrow(/minMs/);
    expect(() => new Backoff({ jitter: 1 })).toThrow(/jitter/);
  });
});
