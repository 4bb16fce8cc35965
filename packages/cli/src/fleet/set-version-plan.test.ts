import { KeyLayout } from '@gantry/spec';
import { CliError } from '../cli-error';
import {
  activeRollout,
  desiredValue,
  MAX_TXN_OPS,
  overrideBy,
  pinsOf,
  planPinDeletes,
  planSetVersion,
  refusal,
  sortPins,
  txnSize,
  type TxnPlan,
} from './set-version-plan';

const keys = new KeyLayout('/g/');
const P = 'shop';
const setAt = new Date('2025-01-01T12:00:00.000Z');

describe('desired value', () => {
  it('has version, setBy and setAt; state only when stopping', () => {
    expect(desiredValue({ version: 'v1.2', setBy: 'ann@box', setAt })).toEqual({ version: 'v1.2', setBy: 'ann@box', setAt: '2025-01-01T12:00:00.000Z' });
    expect(desiredValue({ version: 'v1.2', stop: true, setBy: 'ann@box', setAt })).toMatchObject({ version: 'v1.2', state: 'stopped' });
  });

  it('rejects a tag Docker would reject, as invalid input', () => {
    for (const bad of ['has space', '-leading', 'a:b', 'x'.repeat(129), '']) {
      expect(() => desiredValue({ version: bad, setBy: 'ann@box', setAt })).toThrow(CliError);
    }
    expect(() => desiredValue({ version: 'bad tag', setBy: 'a@b', setAt })).toThrow(/"bad tag" is not a valid Docker tag/);
  });
});

const value = '{"version":"v2"}';
const entries = (pairs: Array<[string, string]>) => new Map(pairs.map(([key, modRevision]) => [key, { modRevision }]));
const noRollout = { key: keys.rolloutRequest(P, 'web'), modRevision: '0' };
/** `count` hosts h0001…, each registered and pinning web (mod revision 1000 + i). */
const fleetOf = (count: number) =>
  entries(
    Array.from({ length: count }, (_, i) => {
      const host = `h${String(i + 1).padStart(4, '0')}`;
      return [
        [keys.registration(P, host), String(i + 1)],
        [keys.hostDesired(P, host, 'web'), String(1000 + i)],
      ] as Array<[string, string]>;
    }).flat(),
  );
/** etcd refuses more than 128 compares or 128 operations in one transaction. */
const expectWithinEtcdLimit = (plan: TxnPlan) => {
  const size = txnSize(plan);
  expect(size.compares).toBeLessThanOrEqual(MAX_TXN_OPS);
  expect(size.ops).toBeLessThanOrEqual(MAX_TXN_OPS);
  expect(MAX_TXN_OPS).toBeLessThan(128);
};

describe('set-version transaction', () => {
  it('--host: puts each named host key once, guarded by the config revision and no rollout request', () => {
    const plan = planSetVersion({ keys, project: P, component: 'web', value, target: { hosts: ['h1', 'h2', 'h1'] }, configModRevision: '7', hostKeys: new Map() });
    expect(plan).toEqual({
      head: {
        guards: [{ key: '/g/v1/projects/shop/config', modRevision: '7' }, noRollout],
        puts: [
          { key: '/g/v1/projects/shop/hosts/h1/desired/web', value },
          { key: '/g/v1/projects/shop/hosts/h2/desired/web', value },
        ],
        deletes: [],
      },
      rest: [],
      pins: [],
    });
  });

  it('--host with more hosts than one transaction holds is refused as invalid input', () => {
    const hosts = Array.from({ length: MAX_TXN_OPS + 1 }, (_, i) => `h${i}`);
    expect(() => planSetVersion({ keys, project: P, component: 'web', value, target: { hosts }, configModRevision: '7', hostKeys: new Map() })).toThrow(/too many for one transaction/);
  });

  it("--all: puts the fleet key and deletes every host's pin of that component only, each guarded on its mod revision", () => {
    const plan = planSetVersion({
      keys,
      project: P,
      component: 'web',
      value,
      target: { all: true },
      configModRevision: '7',
      hostKeys: entries([
        [keys.registration(P, 'h1'), '3'],
        [keys.hostDesired(P, 'h1', 'web'), '11'],
        [keys.hostDesired(P, 'h1', 'api'), '12'],
        [keys.status(P, 'h2', 'web'), '13'],
        [keys.hostDesired(P, 'h3', 'web'), '14'], // a pin of a host that is not registered: removed too
        [`${keys.hostsPrefix(P)}bad host/desired/web`, '15'], // stray key: not a host id, still a pin key
        [`${keys.hostsPrefix(P)}h4/desired/web/extra`, '16'], // not a pin
      ]),
    });
    expect(plan.rest).toEqual([]);
    expect(plan.head.puts).toEqual([{ key: '/g/v1/projects/shop/desired/web', value }]);
    expect(plan.head.deletes).toEqual([`${keys.hostsPrefix(P)}bad host/desired/web`, keys.hostDesired(P, 'h1', 'web'), keys.hostDesired(P, 'h3', 'web')]);
    expect(plan.head.guards).toEqual([
      { key: keys.config(P), modRevision: '7' },
      noRollout,
      { key: `${keys.hostsPrefix(P)}bad host/desired/web`, modRevision: '15' },
      { key: keys.hostDesired(P, 'h1', 'web'), modRevision: '11' },
      { key: keys.hostDesired(P, 'h3', 'web'), modRevision: '14' },
    ]);
    expect(plan.pins.map((p) => p.key)).toEqual(plan.head.deletes);
  });

  it('--all with no hosts yet: only the fleet key', () => {
    const plan = planSetVersion({ keys, project: P, component: 'web', value, target: { all: true }, configModRevision: '1', hostKeys: new Map() });
    expect(plan).toEqual({ head: { guards: [{ key: keys.config(P), modRevision: '1' }, noRollout], puts: [{ key: keys.fleetDesired(P, 'web'), value }], deletes: [] }, rest: [], pins: [] });
  });

  it.each([97, 98, 99, 100, 101, 1000, 2345])('--all over %i pins: every transaction within etcd limits, every pin deleted once, guarded on its own revision', (count) => {
    const hostKeys = fleetOf(count);
    for (const override of [undefined, { requestModRevision: '42', control: '{"action":"abort"}' }]) {
      const plan = planSetVersion({ keys, project: P, component: 'web', value, target: { all: true }, configModRevision: '7', hostKeys, override });
      const all = [plan.head, ...plan.rest];
      for (const txn of all) expectWithinEtcdLimit(txn);
      // The first holds the version change with the config and rollout guards, then as many pins as fit.
      expect(plan.head.guards.slice(0, 2)).toEqual([{ key: keys.config(P), modRevision: '7' }, { key: keys.rolloutRequest(P, 'web'), modRevision: override ? '42' : '0' }]);
      expect(plan.head.puts[0]).toEqual({ key: keys.fleetDesired(P, 'web'), value });
      expect(plan.head.deletes.length).toBe(Math.min(count, MAX_TXN_OPS - 2));
      expect(plan.rest.length).toBe(Math.ceil((count - plan.head.deletes.length) / MAX_TXN_OPS));
      // The later chunks guard exactly the pins they delete, nothing else, and write nothing.
      for (const chunk of plan.rest) {
        expect(chunk.puts).toEqual([]);
        expect(chunk.guards).toEqual(chunk.deletes.map((key) => ({ key, modRevision: hostKeys.get(key)!.modRevision })));
      }
      const deleted = all.flatMap((t) => t.deletes);
      expect(deleted).toHaveLength(count);
      expect(new Set(deleted).size).toBe(count);
      expect(deleted.every((key) => key.endsWith('/desired/web'))).toBe(true);
      // Every deleted pin is guarded, in its own transaction, on the revision it was read at.
      for (const txn of all) {
        const guarded = new Map(txn.guards.map((g) => [g.key, g.modRevision]));
        expect(txn.deletes.filter((key) => guarded.get(key) !== hostKeys.get(key)!.modRevision)).toEqual([]);
      }
    }
  });

  it('--force over a rollout: guarded on the request as read, and the abort control written in the first transaction', () => {
    const control = JSON.stringify({ rollout: 'r-1', action: 'abort', by: 'x', at: setAt.toISOString() });
    const override = { requestModRevision: '42', control };
    for (const target of [{ all: true } as const, { hosts: ['h1'] }]) {
      const plan = planSetVersion({ keys, project: P, component: 'web', value, target, configModRevision: '7', hostKeys: fleetOf(300), override });
      expect(plan.head.guards).toContainEqual({ key: keys.rolloutRequest(P, 'web'), modRevision: '42' });
      expect(plan.head.puts).toContainEqual({ key: keys.rolloutControl(P, 'web'), value: control });
      for (const chunk of plan.rest) expect(chunk.puts).toEqual([]);
    }
    // An unreadable request (no id to name): still guarded on it, no control.
    const plan = planSetVersion({ keys, project: P, component: 'web', value, target: { all: true }, configModRevision: '7', hostKeys: new Map(), override: { requestModRevision: '42' } });
    expect(plan.head).toEqual({ guards: [{ key: keys.config(P), modRevision: '7' }, { key: keys.rolloutRequest(P, 'web'), modRevision: '42' }], puts: [{ key: keys.fleetDesired(P, 'web'), value }], deletes: [] });
  });
});

describe('pins', () => {
  it('planPinDeletes: chunks of at most the given size, in order', () => {
    const pins = Array.from({ length: 250 }, (_, i) => ({ key: `k${i}`, modRevision: String(i + 1) }));
    const chunks = planPinDeletes(pins);
    expect(chunks.map((c) => c.deletes.length)).toEqual([100, 100, 50]);
    expect(chunks.flatMap((c) => c.deletes)).toEqual(pins.map((p) => p.key));
    expect(planPinDeletes(pins, 7).every((c) => c.guards.length <= 7)).toBe(true);
    expect(planPinDeletes([])).toEqual([]);
    expect(() => planPinDeletes(pins, 129)).toThrow();
  });

  it('pinsOf finds the pins of one component of one project, in key order', () => {
    const hostKeys = entries([
      [keys.hostDesired(P, 'h2', 'web'), '2'],
      [keys.hostDesired(P, 'h1', 'web'), '1'],
      [keys.hostDesired(P, 'h1', 'webby'), '3'],
      [keys.hostDesired('other', 'h1', 'web'), '4'],
      [keys.status(P, 'h1', 'web'), '5'],
    ]);
    expect(pinsOf(keys, P, 'web', hostKeys)).toEqual([
      { key: keys.hostDesired(P, 'h1', 'web'), modRevision: '1' },
      { key: keys.hostDesired(P, 'h2', 'web'), modRevision: '2' },
    ]);
  });

  it('sortPins: older than the change still to delete, newer left alone (revisions compared as numbers)', () => {
    const pins = [
      { key: 'a', modRevision: '9' },
      { key: 'b', modRevision: '100' },
      { key: 'c', modRevision: '10' },
      { key: 'd', modRevision: '12345678901234567890' },
    ];
    expect(sortPins(pins, '10')).toEqual({ older: [pins[0]], newer: [pins[1], pins[2], pins[3]] });
  });
});

describe('the active rollout', () => {
  const request = { id: 'r-20250101120000-abcd', component: 'web', toVersion: 'v2', policy: {}, createdBy: 'ann@box', createdAt: '2025-01-01T12:00:00.000Z' };
  const stored = (value: string) => ({ key: keys.rolloutRequest(P, 'web'), value, modRevision: '42' });

  it('is read from its request, and refused naming it, who started it and when, how to stop or override it', () => {
    const rollout = activeRollout(stored(JSON.stringify(request)));
    expect(rollout).toEqual({ key: keys.rolloutRequest(P, 'web'), modRevision: '42', id: request.id, toVersion: 'v2', createdBy: 'ann@box', createdAt: request.createdAt });
    const err = refusal({ keys, project: P, component: 'web', rollout, state: 'running' });
    expect(err).toBeInstanceOf(CliError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(`rollout ${request.id} (to v2, started by ann@box at 2025-01-01T12:00:00.000Z), running`);
    expect(err.message).toContain('`gantry rollout abort shop web`');
    expect(err.message).toContain('--force');
    expect(err.details).toMatchObject({ activeRollout: request.id, toVersion: 'v2', createdBy: 'ann@box', createdAt: request.createdAt, state: 'running', key: keys.rolloutRequest(P, 'web') });
  });

  it('an invalid request is still an active rollout: what can be read of it is named', () => {
    const partly = activeRollout(stored(JSON.stringify({ id: 'r-x', toVersion: 'v2' })));
    expect(partly).toMatchObject({ id: 'r-x', toVersion: 'v2', problem: expect.any(String) });
    const garbage = activeRollout(stored('{not json'));
    expect(garbage.id).toBeUndefined();
    expect(refusal({ keys, project: P, component: 'web', rollout: garbage }).message).toMatch(/rollout \(unreadable request\).*is invalid/);
  });

  it("the override's `by` says who and with what, within the 200 characters a control allows", () => {
    expect(overrideBy({ operator: 'ann@box', component: 'web', version: 'v3', target: { all: true } })).toBe('ann@box (set-version --force: web=v3 on all hosts)');
    expect(overrideBy({ operator: 'ann@box', component: 'web', version: 'v3', stop: true, target: { hosts: ['h1', 'h2'] } })).toBe('ann@box (set-version --force: web=v3 (stopped) on h1, h2)');
    const many = overrideBy({ operator: 'ann@box', component: 'web', version: 'v3', target: { hosts: Array.from({ length: 80 }, (_, i) => `host-${i}`) } });
    expect(many.length).toBeLessThanOrEqual(200);
    expect(many).toMatch(/^ann@box \(set-version --force: web=v3 on host-0, host-1, .* and \d+ more\)$/);
    const huge = overrideBy({ operator: 'x'.repeat(150), component: 'c'.repeat(63), version: 't'.repeat(128), target: { all: true } });
    expect(huge.length).toBeLessThanOrEqual(200);
  });
});
