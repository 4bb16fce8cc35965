import { dockerTimestamp } from './container-exit';

describe('dockerTimestamp', () => {
  it('formats milliseconds as seconds.nanoseconds', () => {
    expect(dockerTimestamp(1_700_000_000_123)).toBe('1700000000.123000000');
    expect(dockerTimestamp(1_700_000_000_005)).toBe('1700000000.005000000');
    expect(dockerTimestamp(1_700_000_000_000)).toBe('1700000000.000000000');
  });
});
