import { KeyLayout } from '@gantry/spec';
import { formatAge } from './age';
import { hostCells, hostsFromEntries } from './hosts-rows';

const keys = new KeyLayout();
const P = 'shop';

describe('hosts', () => {
  const now = new Date('2025-01-01T12:00:00.000Z');
  const reg = (host: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ hostId: host, address: '10.0.0.1', agentVersion: '0.1.0', startedAt: '2025-01-01T09:00:00.000Z', ...extra });

  it('lists valid registrations sorted, and reports invalid ones by key', () => {
    const list = hostsFromEntries(keys, P, [
      [keys.registration(P, 'b'), reg('b', { labels: { zone: 'eu', rack: '4' } })],
      [keys.registration(P, 'a'), reg('a')],
      [keys.registration(P, 'c'), 'nope'],
      [keys.registration(P, 'd'), reg('not-d')],
      [keys.status(P, 'a', 'web'), '{}'],
    ]);
    expect(list.hosts.map((h) => [h.hostId, h.key])).toEqual([
      ['a', keys.registration(P, 'a')],
      ['b', keys.registration(P, 'b')],
    ]);
    expect(list.invalid).toEqual([
      { host: 'c', key: keys.registration(P, 'c'), problem: expect.stringMatching(/invalid registration value: not valid JSON/) },
      { host: 'd', key: keys.registration(P, 'd'), problem: expect.stringMatching(/hostId: "\S+" does not match the key's host "d"/) },
    ]);
    expect(hostCells(list.hosts[1], now)).toEqual(['b', '10.0.0.1', 'zone=eu,rack=4', '0.1.0', '3h ago']);
    expect(hostCells(list.hosts[0], now)[2]).toBe('-');
  });
});

describe('ages', () => {
  it('are short and coarse', () => {
    expect([0, 59_000, 119_000, 120_000, 7_199_000, 7_200_000, 47 * 3_600_000, 48 * 3_600_000, -5].map(formatAge)).toEqual(['0s', '59s', '119s', '2m', '119m', '2h', '47h', '2d', '0s']);
  });
});
