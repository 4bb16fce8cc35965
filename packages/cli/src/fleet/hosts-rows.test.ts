import { KeyLayout } from '@gantry/spec';
import { formatAge } from './age';
import { goneCells, hostCells, hostsFromEntries } from './hosts-rows';

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

describe('gone hosts', () => {
  const now = new Date('2025-01-01T12:00:00.000Z');
  const reg = (host: string) => JSON.stringify({ hostId: host, address: '10.0.0.1', agentVersion: '0.1.0', startedAt: '2025-01-01T09:00:00.000Z' });
  const status = (at: string) => JSON.stringify({ phase: 'running', version: 'v1', updatedAt: at });

  it('lists hosts with status or agent records left but no registration, with when they were last heard of; pins alone are not a gone host', () => {
    const list = hostsFromEntries(keys, P, [
      [keys.registration(P, 'a'), reg('a')],
      [keys.status(P, 'a', 'web'), status('2025-01-01T11:59:00.000Z')],
      [keys.status(P, 'b', 'web'), status('2025-01-01T11:00:00.000Z')],
      [keys.status(P, 'b', 'api'), status('2025-01-01T11:30:00.000Z')],
      [keys.agent(P, 'b'), JSON.stringify({ agentVersion: '1', updatedAt: '2025-01-01T10:00:00.000Z' })],
      [keys.hostDesired(P, 'b', 'web'), JSON.stringify({ version: 'v1' })],
      [keys.hostDesired(P, 'c', 'web'), JSON.stringify({ version: 'v1' })],
      [keys.status(P, 'd', 'web'), 'garbage'],
    ]);
    expect(list.hosts.map((h) => h.hostId)).toEqual(['a']);
    expect(list.gone).toEqual([
      { host: 'b', lastStatusAt: '2025-01-01T11:30:00.000Z', statuses: ['api', 'web'], agent: true, pins: ['web'] },
      { host: 'd', statuses: ['web'], agent: false, pins: [] },
    ]);
    expect(goneCells(list.gone[0], now)).toEqual(['b', '30m ago', 'status: api,web; agent; pins: web']);
    expect(goneCells(list.gone[1], now)).toEqual(['d', '-', 'status: web']);
  });
});

describe('ages', () => {
  it('are short and coarse', () => {
    expect([0, 59_000, 119_000, 120_000, 7_199_000, 7_200_000, 47 * 3_600_000, 48 * 3_600_000, -5].map(formatAge)).toEqual(['0s', '59s', '119s', '2m', '119m', '2h', '47h', '2d', '0s']);
  });
});
