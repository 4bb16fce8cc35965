import fc from 'fast-check';
import { invalidRecords, KeyLayout, recordMap } from '@gantry/spec';
import { layoutKey, storedText } from '@gantry/testkit';
import { buildStatusRows, diffRows, statusCells, type StatusRow } from './status-rows';

const keys = new KeyLayout();
const P = 'shop';
const now = new Date('2025-01-01T12:00:00.000Z');
const ago = (s: number) => new Date(now.getTime() - s * 1000).toISOString();
const registration = (host: string) => JSON.stringify({ hostId: host, address: `10.0.0.${host.length}`, agentVersion: '0.1.0', startedAt: ago(3600) });
const status = (fields: Record<string, unknown> = {}) => JSON.stringify({ phase: 'running', version: 'v1', updatedAt: ago(5), ...fields });
const cells = (rows: StatusRow[]) => rows.map((r) => statusCells(r, now));

describe('status rows', () => {
  it('one row per host and component, sorted, with version → target, health and draining', () => {
    const rows = buildStatusRows(
      keys,
      P,
      recordMap(keys, [
        [keys.registration(P, 'b'), registration('b')],
        [keys.registration(P, 'a'), registration('a')],
        [keys.status(P, 'a', 'worker'), status()],
        [
          keys.status(P, 'a', 'web'),
          status({
            phase: 'draining',
            targetVersion: 'v2',
            health: { state: 'unhealthy', failing: ['http'] },
            drain: { container: 'c1', connectionsLeft: 3, deadline: new Date(now.getTime() + 90_000).toISOString() },
          }),
        ],
        [keys.status(P, 'b', 'web'), status({ version: 'v2', targetVersion: 'v2', lastError: { key: keys.hostDesired(P, 'b', 'web'), reason: 'pull failed', at: ago(60) } })],
      ]),
    );
    expect(rows.map((r) => [r.host, r.component, r.kind, r.registered])).toEqual([
      ['a', 'web', 'component', true],
      ['a', 'worker', 'component', true],
      ['b', 'web', 'component', true],
    ]);
    expect(cells(rows)).toEqual([
      ['a', 'web', 'v1 → v2', 'draining', 'unhealthy (failing: http)', '3 conns, 90s left', '-', '5s'],
      ['a', 'worker', 'v1', 'running', '-', '-', '-', '5s'],
      ['b', 'web', 'v2', 'running', '-', '-', `pull failed (key ${keys.hostDesired(P, 'b', 'web')})`, '5s'],
    ]);
    expect(rows[0].status?.drain?.connectionsLeft).toBe(3);
  });

  it('shows a registered host without any status, and marks statuses of unregistered hosts (gone)', () => {
    const rows = buildStatusRows(
      keys,
      P,
      recordMap(keys, [
        [keys.registration(P, 'new'), registration('new')],
        [keys.status(P, 'old', 'web'), status()],
      ]),
    );
    expect(rows.map((r) => [r.host, r.component, r.kind, r.registered])).toEqual([
      ['new', null, 'no-status', true],
      ['old', 'web', 'component', false],
    ]);
    expect(cells(rows).map((c) => c.slice(0, 4))).toEqual([
      ['new', '-', '-', 'no status yet'],
      ['old (gone)', 'web', 'v1', 'running'],
    ]);
  });

  it('turns invalid values into error rows naming the key, never throwing', () => {
    const bad = keys.status(P, 'a', 'web');
    const notJson = keys.status(P, 'a', 'api');
    const badReg = keys.registration(P, 'c');
    const rows = buildStatusRows(
      keys,
      P,
      recordMap(keys, [
        [keys.registration(P, 'a'), registration('a')],
        [bad, JSON.stringify({ phase: 'exploding', updatedAt: 'yesterday' })],
        [notJson, 'garbage{'],
        [keys.status(P, 'a', 'ok'), status()],
        [badReg, '{"hostId":"c"}'],
      ]),
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get('a/web')).toMatchObject({ kind: 'invalid', key: bad, status: null, error: { key: bad, reason: expect.stringMatching(/invalid status value: phase: .*updatedAt/) } });
    expect(byId.get('a/api')?.error?.reason).toMatch(/not valid JSON/);
    expect(byId.get('a/ok')?.kind).toBe('component');
    expect(byId.get('c//registration')).toMatchObject({ kind: 'invalid', registered: true, error: { key: badReg, reason: expect.stringMatching(/invalid registration value: address: required/) } });
    const webCells = statusCells(byId.get('a/web')!, now);
    expect(webCells[3]).toBe('invalid');
    expect(webCells[6]).toContain(`(key ${bad})`);
  });

  it("puts the agent's problems on rows of their own, and an invalid agent record as an error row", () => {
    const configKey = keys.config(P);
    const rows = buildStatusRows(
      keys,
      P,
      recordMap(keys, [
        [keys.registration(P, 'a'), registration('a')],
        [keys.agent(P, 'a'), JSON.stringify({ agentVersion: '0.1.0', updatedAt: ago(2), problems: [{ key: configKey, reason: 'invalid config: components: required', at: ago(2) }] })],
        [keys.registration(P, 'b'), registration('b')],
        [keys.agent(P, 'b'), '{"agentVersion": 7}'],
        [keys.registration(P, 'c'), registration('c')],
        [keys.agent(P, 'c'), JSON.stringify({ agentVersion: '0.1.0', updatedAt: ago(2), problems: [] })],
      ]),
    );
    expect(rows.map((r) => [r.id, r.kind])).toEqual([
      ['a//agent#0', 'agent'],
      ['b//none', 'no-status'],
      ['b//agent', 'invalid'],
      ['c//none', 'no-status'],
    ]);
    expect(statusCells(rows[0], now)).toEqual(['a', '(agent)', '-', '-', '-', '-', `invalid config: components: required (key ${configKey})`, '2s']);
    expect(rows[2].error).toMatchObject({ key: keys.agent(P, 'b'), reason: expect.stringMatching(/invalid agent status value: agentVersion/) });
  });

  it('ignores keys of other projects, host-level desired versions and keys outside the layout', () => {
    const rows = buildStatusRows(
      keys,
      P,
      recordMap(keys, [
        [keys.status('other', 'a', 'web'), status()],
        [keys.hostDesired(P, 'a', 'web'), '{"version":"v1"}'],
        ['/gantry/v2/projects/shop/hosts/a/status/web', 'x'],
      ]),
    );
    expect(rows).toEqual([]);
  });

  it('shows keys that name nothing valid as rows naming the key, under their host when it has a valid id', () => {
    const unknown = `${keys.hostsPrefix(P)}a/something/else/entirely`;
    const badComponent = `${keys.hostsPrefix(P)}a/status/bad name`;
    const badHost = `${keys.hostsPrefix(P)}h 1/status/web`;
    const rows = buildStatusRows(keys, P, recordMap(keys, [[unknown, 'x'], [badComponent, status()], [badHost, status()]]));
    expect(rows.map((r) => [r.host, r.kind, r.key, r.error?.reason])).toEqual([
      ['a', 'no-status', undefined, undefined],
      ['a', 'invalid', unknown, expect.stringMatching(/^ignored key: not a key of layout v1/)],
      ['a', 'invalid', badComponent, expect.stringMatching(/^ignored key: invalid component name "bad name"/)],
      ['h 1', 'invalid', badHost, expect.stringMatching(/^ignored key: invalid host id "h 1"/)],
    ]);
  });

  it('says when a drain deadline has passed', () => {
    const [row] = buildStatusRows(keys, P, recordMap(keys, [[keys.status(P, 'a', 'web'), status({ drain: { container: 'c', connectionsLeft: 1, deadline: ago(1) } })]]));
    expect(statusCells(row, now)[5]).toBe('1 conn, deadline passed');
  });

  it('shows maintenance beside the phase (the containers keep theirs)', () => {
    const maintenance = { message: 'back soon', since: ago(60), httpPorts: [80], tcpPorts: [] };
    const [on] = buildStatusRows(keys, P, recordMap(keys, [[keys.status(P, 'a', 'web'), status({ maintenance })]]));
    expect(statusCells(on, now)[3]).toBe('running, maintenance (503)');
    const [held] = buildStatusRows(keys, P, recordMap(keys, [[keys.status(P, 'a', 'web'), status({ maintenance: { ...maintenance, holdSeconds: 5 } })]]));
    expect(statusCells(held, now)[3]).toBe('running, maintenance (503, hold 5s)');
  });

  it('shows an old container stopping in the background beside the phase: the host is running the new one', () => {
    const teardown = [{ container: 'c0ffee1234567890', since: ago(3), stopTimeoutMs: 10_000 }];
    const [row] = buildStatusRows(keys, P, recordMap(keys, [[keys.status(P, 'a', 'web'), status({ version: 'v2', teardown })]]));
    expect(statusCells(row, now)[3]).toBe('running, old c0ffee123456 stopping 3s/10s');
  });
});

describe('row diff', () => {
  const build = (entries: Array<[string, string]>) => buildStatusRows(keys, P, recordMap(keys, entries));
  it('reports new and changed rows, and removed ones', () => {
    const before = build([
      [keys.registration(P, 'a'), registration('a')],
      [keys.status(P, 'a', 'web'), status()],
      [keys.status(P, 'a', 'api'), status()],
    ]);
    const after = build([
      [keys.registration(P, 'a'), registration('a')],
      [keys.status(P, 'a', 'web'), status({ phase: 'switching' })],
      [keys.status(P, 'a', 'db'), status()],
    ]);
    const { changed, removed } = diffRows(before, after);
    expect(changed.map((r) => r.id)).toEqual(['a/db', 'a/web']);
    expect(removed.map((r) => r.id)).toEqual(['a/api']);
    expect(diffRows(after, after)).toEqual({ changed: [], removed: [] });
  });

  it('a host losing its registration changes its rows to (gone)', () => {
    const before = build([
      [keys.registration(P, 'a'), registration('a')],
      [keys.status(P, 'a', 'web'), status()],
    ]);
    const after = build([[keys.status(P, 'a', 'web'), status()]]);
    expect(diffRows(before, after).changed).toEqual([expect.objectContaining({ id: 'a/web', registered: false })]);
  });
});

describe('status rows (property)', () => {
  const space = { layout: keys, projects: [P], hosts: ['a', 'b'], components: ['web', 'api'] };

  it('never throws on any keys and values, and shows every invalid key under the hosts prefix as a row naming it', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(layoutKey(space), storedText), { maxLength: 25 }), (entries) => {
        const records = recordMap(keys, entries);
        const rows = buildStatusRows(keys, P, records);
        const shown = new Set(rows.filter((r) => r.kind === 'invalid').map((r) => r.key));
        for (const bad of invalidRecords(records, keys.hostsPrefix(P))) {
          const silent = bad.ref !== undefined && (bad.ref.kind === 'host-desired' || bad.ref.kind === 'prepull'); // desired values and prepull requests are the agent's to report
          if (!silent) expect(shown).toContain(bad.key);
        }
        for (const row of rows) statusCells(row, now);
      }),
      { numRuns: 500 },
    );
  });
});
