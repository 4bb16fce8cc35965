import type { ComponentStatus } from '@gantry/spec';

const seconds = (ms: number) => `${Math.max(0, Math.round(ms / 1000))}s`;

/**
 * A host's old containers still being stopped in the background, beside its phase in `gantry
 * status` and the rollout view: `old c0ffee123456 stopping 3s/10s` (how long since it began, of its
 * stop timeout), `2 old stopping 3s/10s` (the oldest). The host was done before they began.
 */
export function teardownText(teardown: NonNullable<ComponentStatus['teardown']>, now: Date): string {
  const oldest = teardown.reduce((a, b) => (Date.parse(a.since) <= Date.parse(b.since) ? a : b));
  const took = `${seconds(now.getTime() - Date.parse(oldest.since))}/${seconds(oldest.stopTimeoutMs)}`;
  return teardown.length === 1 ? `old ${oldest.container.slice(0, 12)} stopping ${took}` : `${teardown.length} old stopping ${took}`;
}
