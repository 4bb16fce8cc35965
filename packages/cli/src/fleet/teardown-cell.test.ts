import { teardownText } from './teardown-cell';

describe('teardownText', () => {
  const now = new Date('2026-01-01T00:00:13Z');
  it('names the one old container, how long it has been stopping and its stop timeout', () => {
    expect(teardownText([{ container: 'c0ffee1234567890', since: '2026-01-01T00:00:10Z', stopTimeoutMs: 10_000 }], now)).toBe('old c0ffee123456 stopping 3s/10s');
  });
  it('counts several, timed by the oldest', () => {
    const teardown = [
      { container: 'a', since: '2026-01-01T00:00:12Z', stopTimeoutMs: 5_000 },
      { container: 'b', since: '2026-01-01T00:00:08Z', stopTimeoutMs: 10_000 },
    ];
    expect(teardownText(teardown, now)).toBe('2 old stopping 5s/10s');
  });
});
