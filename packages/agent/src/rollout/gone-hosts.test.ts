import { KeyLayout, recordMap } from '@gantry/spec';
import { hostKeys, parseDurationMs, sweepGoneHosts } from './gone-hosts';

const keys = new KeyLayout();
const P = 'demo';
const reg = (host: string) => [keys.registration(P, host), JSON.stringify({ hostId: host, address: '127.0.0.1', agentVersion: '1', startedAt: '2026-01-01T00:00:00.000Z' })] as [string, string];
const status = (host: string, component = 'web') => [keys.status(P, host, component), JSON.stringify({ phase: 'running', version: 'v1', updatedAt: '2026-01-01T00:00:00.000Z' })] as [string, string];
const agent = (host: string) => [keys.agent(P, host), JSON.stringify({ agentVersion: '1', updatedAt: '2026-01-01T00:00:00.000Z' })] as [string, string];
const pin = (host: string) => [keys.hostDesired(P, host, 'web'), JSON.stringify({ version: 'v1' })] as [string, string];

describe('gone hosts', () => {
  it('parses retention durations', () => {
    expect(['90s', '30m', '24h', '7d', '500ms', '120', ' 2h '].map((t) => parseDurationMs(t))).toEqual([90_000, 1_800_000, 86_400_000, 604_800_000, 500, 120_000, 7_200_000]);
    expect(['', '-1s', '5q', 'h', '1.5.2s'].map((t) => parseDurationMs(t))).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(parseDurationMs(3)).toBe(3_000);
  });

  it('finds hosts with status or agent records but no registration; host-desired keys are not theirs to sweep', () => {
    const records = recordMap(keys, [reg('h1'), status('h1'), status('h2'), status('h2', 'api'), agent('h2'), pin('h2'), pin('h3'), agent('h4'), [keys.registration(P, 'h5'), 'not json'], status('h5')]);
    const hosts = hostKeys(keys, P, records.entries(keys.hostsPrefix(P)));
    expect(hosts.get('h1')).toMatchObject({ registered: true });
    expect(hosts.get('h2')).toEqual({ host: 'h2', registered: false, statusKeys: [keys.status(P, 'h2', 'web'), keys.status(P, 'h2', 'api')], agentKey: keys.agent(P, 'h2') });
    // Only a pin: never registered, nothing to sweep.
    const first = sweepGoneHosts(hosts, new Map(), 1_000, 10_000);
    expect([...first.goneSince.keys()].sort()).toEqual(['h2', 'h4']);
    expect(first.expired).toEqual([]);
    // h5's registration is there (if invalid): not gone.
    expect(first.goneSince.has('h5')).toBe(false);
  });

  it("measures retention on the coordinator's clock from when it first saw the host gone; a returning host starts over", () => {
    const gone = hostKeys(keys, P, recordMap(keys, [status('h2')]).entries());
    let sweep = sweepGoneHosts(gone, new Map(), 5_000, 10_000);
    expect(sweep.goneSince.get('h2')).toBe(5_000);
    sweep = sweepGoneHosts(gone, sweep.goneSince, 14_999, 10_000);
    expect(sweep.expired).toEqual([]);
    sweep = sweepGoneHosts(gone, sweep.goneSince, 15_000, 10_000);
    expect(sweep.expired.map((h) => h.host)).toEqual(['h2']);
    // Kept until its keys are really gone (a failed delete does not restart the clock).
    expect(sweep.goneSince.get('h2')).toBe(5_000);
    // Back (registered): forgotten; gone again later: a new clock.
    const back = hostKeys(keys, P, recordMap(keys, [reg('h2'), status('h2')]).entries());
    sweep = sweepGoneHosts(back, sweep.goneSince, 16_000, 10_000);
    expect(sweep.goneSince.size).toBe(0);
    sweep = sweepGoneHosts(gone, sweep.goneSince, 20_000, 10_000);
    expect(sweep.goneSince.get('h2')).toBe(20_000);
    // A new coordinator knows nothing: its clock starts when it first looks.
    expect(sweepGoneHosts(gone, new Map(), 3, 10_000).expired).toEqual([]);
  });
});
