import { fmt, median, percentile } from './stats';

describe('percentile', () => {
  it('is the nearest-rank percentile: the smallest value with at least p% of values at or below it', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted input
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 0)).toBe(1);
  });

  it('picks the maximum as p99 of fewer than 100 values, and NaN of none', () => {
    expect(percentile([5, 1, 9], 99)).toBe(9);
    expect(percentile([], 99)).toBeNaN();
  });

  it('leaves its input unsorted', () => {
    const values = [3, 1, 2];
    expect(median(values)).toBe(2);
    expect(values).toEqual([3, 1, 2]);
  });
});

describe('fmt', () => {
  it('prints ms below a second, seconds above, and - for NaN', () => {
    expect(fmt(12.34)).toBe('12.3 ms');
    expect(fmt(1234)).toBe('1.23 s');
    expect(fmt(NaN)).toBe('-');
  });
});
