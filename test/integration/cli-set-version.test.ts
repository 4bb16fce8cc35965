/**
 * `gantry set-version` against the real etcd: refused while a rollout of the component is active,
 * `--force` aborting it in the same transaction as the version change, and `--all` over 1,000
 * hosts (more pins than etcd takes in one transaction). The built binary is run as an operator
 * runs it; what cannot be timed from outside (a pin rewritten between two chunks, a rollout
 * started between the read and the write, etcd failing mid-way) runs in-process, with a write
 * injected at the exact point. Hosts are faked by writing their keys directly. Build with
 * `npx tsc -b` first (`npm test` does).
 */
import { randomBytes } from 'node:crypto';
import { Etcd3, type IKeyValue } from 'etcd3';
import { KeyLayout, rolloutControlSchema, type RolloutRequest } from '@gantry/spec';
import { serviceEnv, waitFor } from '@gantry/testkit';
import { CliError } from '../../packages/cli/src/cli-error';
import { applySetVersion, pinsLeftError, type SetVersionInput } from '../../packages/cli/src/commands/set-version';
import { FleetClient } from '../../packages/cli/src/fleet/fleet-client';
import { desiredValue, MAX_TXN_OPS, type TxnPlan } from '../../packages/cli/src/fleet/set-version-plan';
import { lastJson, runGantry } from '../support/cli';

const env = serviceEnv();
const endpoint = env.etcdEndpoints[0];
const project = `it-${randomBytes(4).toString('hex')}`;
const keys = new KeyLayout();
const etcd = new Etcd3({ hosts: env.etcdEndpoints });

const gantry = (...args: string[]) => runGantry([...args, '--project', project, '--etcd', endpoint]);
const get = (key: string) => etcd.get(key).string();
const iso = (offsetMs = 0) => new Date(Date.now() + offsetMs).toISOString();
const say = (line: string) => process.stdout.write(`${line}\n`);

const web = (host: string) => keys.hostDesired(project, host, 'web');
const hostIds = (count: number, name = 'h') => Array.from({ length: count }, (_, i) => `${name}${String(i + 1).padStart(4, '0')}`);
const pin = (version: string, extra: Record<string, unknown> = {}) => JSON.stringify({ version, setBy: 'test@it', setAt: iso(), ...extra });

/** Puts many keys, 100 a transaction (etcd's limit is 128). */
async function putAll(pairs: Array<[string, string]>): Promise<void> {
  for (let i = 0; i < pairs.length; i += 100) {
    await etcd
      .if(keys.config(project), 'Create', '>', 0)
      .then(...pairs.slice(i, i + 100).map(([key, value]) => etcd.put(key).value(value)))
      .commit();
  }
}
/** `count` registered hosts (registration, status) each pinning web to v1. */
async function fleetWithPins(hosts: string[]): Promise<void> {
  await putAll(
    hosts.flatMap((host): Array<[string, string]> => [
      [keys.registration(project, host), JSON.stringify({ hostId: host, address: '10.9.0.1', labels: {}, agentVersion: '9.9.9', startedAt: iso(-60_000) })],
      [keys.status(project, host, 'web'), JSON.stringify({ phase: 'running', version: 'v1', updatedAt: iso() })],
      [web(host), pin('v1')],
    ]),
  );
}
async function pinsLeft(): Promise<string[]> {
  const all = await etcd.getAll().prefix(keys.hostsPrefix(project)).keys();
  return all.filter((key) => key.endsWith('/desired/web')).sort();
}
async function clearHosts(): Promise<void> {
  await etcd.delete().prefix(keys.hostsPrefix(project));
  await etcd.delete().key(keys.fleetDesired(project, 'web'));
}

const config = { components: [{ name: 'web', repo: `${env.registry}/gantry/demo-app`, tag: 'v1' }, { name: 'api', repo: `${env.registry}/gantry/demo-app`, tag: 'v1' }] };
const request = (id: string): RolloutRequest => ({
  id,
  component: 'web',
  toVersion: 'v2',
  policy: { batch: { count: 1 }, canary: 0, minReadySeconds: 0, progressDeadlineSeconds: 600, autoRollback: false, hosts: { all: true }, onHostLost: 'fail', preflight: true },
  createdBy: 'rita@laptop',
  createdAt: '2026-11-22T05:00:00.000Z',
});

/** A FleetClient on the test's etcd whose commits can be preceded by a write (`beforeCommit`) or fail (`failCommit`). */
class HookedFleet extends FleetClient {
  commits = 0;
  beforeCommit?: (plan: TxnPlan, n: number) => Promise<void>;
  failCommit?: (n: number) => boolean;
  constructor() {
    super(etcd, keys, project, [endpoint]);
  }
  override async commit(plan: TxnPlan): Promise<{ succeeded: boolean; revision: string }> {
    const n = this.commits++;
    await this.beforeCommit?.(plan, n);
    if (this.failCommit?.(n)) throw new CliError(`etcd at ${endpoint} is unavailable (injected failure of commit ${n})`, 3);
    return super.commit(plan);
  }
}
const input = (version: string, extra: Partial<SetVersionInput> = {}): SetVersionInput => ({
  component: 'web',
  value: desiredValue({ version, setBy: 'test@it', setAt: new Date() }),
  target: { all: true },
  force: false,
  operator: 'test@it',
  ...extra,
});

beforeAll(async () => {
  await etcd.put(keys.config(project)).value(JSON.stringify(config));
});
afterAll(async () => {
  await etcd.delete().prefix(keys.project(project));
  etcd.close();
});

describe('set-version while a rollout of the component is active', () => {
  const id = 'r-20261122050000-beef';
  beforeAll(async () => {
    await fleetWithPins(['h1', 'h2']);
    await etcd.put(keys.rolloutRequest(project, 'web')).value(JSON.stringify(request(id)));
    await etcd.put(keys.rolloutState(project, 'web')).value(JSON.stringify({ rollout: id, state: 'running', hosts: [], batches: 2, currentBatch: 0, updatedAt: iso() }));
  });
  afterAll(async () => {
    await etcd.delete().prefix(keys.rollout(project, 'web'));
    await clearHosts();
  });

  it('is refused (exit 2), naming the rollout, its version, who started it and when, and how to stop or override it; nothing is written', async () => {
    for (const target of [['--all'], ['--host', 'h1']]) {
      const res = gantry('set-version', 'web', 'v3', ...target);
      expect({ target, status: res.status }).toEqual({ target, status: 2 });
      expect(res.stderr).toContain(`a rollout of web is active: rollout ${id} (to v2, started by rita@laptop at 2026-11-22T05:00:00.000Z), running`);
      expect(res.stderr).toContain(`gantry rollout abort ${project} web`);
      expect(res.stderr).toContain('--force');
      const json = gantry('set-version', 'web', 'v3', ...target, '--json');
      expect(json.status).toBe(2);
      expect(lastJson(json.stdout)).toMatchObject({
        event: 'error',
        activeRollout: id,
        toVersion: 'v2',
        createdBy: 'rita@laptop',
        createdAt: '2026-11-22T05:00:00.000Z',
        state: 'running',
        key: keys.rolloutRequest(project, 'web'),
        message: expect.stringContaining(id),
      });
    }
    // Another component is not held up by web's rollout.
    expect(gantry('set-version', 'api', 'v3', '--host', 'h1').status).toBe(0);
    expect(await get(keys.fleetDesired(project, 'web'))).toBeNull();
    expect(JSON.parse((await get(web('h1')))!)).toMatchObject({ version: 'v1' });
    expect(await get(keys.rolloutControl(project, 'web'))).toBeNull();
  });

  it('--force writes the abort control in the same transaction (revision) as the version change, saying who overrode it with what', async () => {
    const events: Array<{ type: string; kv: IKeyValue }> = [];
    const watcher = await etcd.watch().prefix(keys.project(project)).create();
    watcher.on('put', (kv) => events.push({ type: 'put', kv }));
    watcher.on('delete', (kv) => events.push({ type: 'delete', kv }));
    let result: Record<string, any>;
    try {
      const res = gantry('set-version', 'web', 'v3', '--all', '--force', '--json');
      expect({ status: res.status, stderr: res.stderr }).toEqual({ status: 0, stderr: '' });
      result = lastJson(res.stdout);
      expect(result).toMatchObject({
        ok: true,
        wrote: [keys.fleetDesired(project, 'web')],
        deleted: [web('h1'), web('h2')],
        overrode: { rollout: id, toVersion: 'v2', createdBy: 'rita@laptop', createdAt: '2026-11-22T05:00:00.000Z', controlKey: keys.rolloutControl(project, 'web') },
      });
      await waitFor(() => events.length >= 4, { what: 'the watch events of the transaction', timeoutMs: 10_000 });
    } finally {
      await watcher.cancel();
    }
    expect(events.map((e) => [e.type, e.kv.key.toString()]).sort()).toEqual([
      ['delete', web('h1')],
      ['delete', web('h2')],
      ['put', keys.fleetDesired(project, 'web')],
      ['put', keys.rolloutControl(project, 'web')],
    ]);
    expect(new Set(events.map((e) => String(e.kv.mod_revision)))).toEqual(new Set([result.revision]));
    const control = rolloutControlSchema.parse(JSON.parse((await get(keys.rolloutControl(project, 'web')))!));
    expect(control).toEqual({ rollout: id, action: 'abort', by: expect.stringMatching(/^.+@.+ \(set-version --force: web=v3 on all hosts\)$/), at: expect.any(String) });
    expect(result.overrode.control).toEqual(control);

    // --host, human output: says the rollout was aborted by the override.
    const res = gantry('set-version', 'web', 'v4', '--host', 'h1', '--host', 'h2', '--force');
    expect(res.status).toBe(0);
    expect(res.stdout).toContain(`aborted  rollout ${id} (to v2, started by rita@laptop at 2026-11-22T05:00:00.000Z): --force wrote an abort at ${keys.rolloutControl(project, 'web')}`);
    expect(res.stdout).toMatch(/its history will say "aborted by .+@.+ \(set-version --force: web=v4 on h1, h2\)"/);
    expect(JSON.parse((await get(web('h2')))!)).toMatchObject({ version: 'v4' });
  });

  it('a rollout started between the check and the write is not overridden: the write is refused naming it', async () => {
    await etcd.delete().prefix(keys.rollout(project, 'web'));
    const fleet = new HookedFleet();
    fleet.beforeCommit = async (_, n) => {
      if (n === 0) await etcd.put(keys.rolloutRequest(project, 'web')).value(JSON.stringify(request('r-20261122060000-cafe')));
    };
    const before = await get(keys.fleetDesired(project, 'web'));
    await expect(applySetVersion(fleet, input('v5'))).rejects.toThrow(/a rollout of web is active: rollout r-20261122060000-cafe \(to v2/);
    expect(fleet.commits).toBe(1); // the guarded write failed, the check after it refused
    expect(await get(keys.fleetDesired(project, 'web'))).toBe(before);
    // With --force, a request replaced between the check and the write is not aborted blindly either:
    // the write is guarded on the request read, so the retry reads the new one and aborts that.
    fleet.commits = 0;
    fleet.beforeCommit = async (_, n) => {
      if (n === 0) await etcd.put(keys.rolloutRequest(project, 'web')).value(JSON.stringify(request('r-20261122070000-f00d')));
    };
    const outcome = await applySetVersion(fleet, input('v5', { force: true }));
    expect(fleet.commits).toBe(2);
    expect(outcome.overrode?.control).toMatchObject({ rollout: 'r-20261122070000-f00d', action: 'abort' });
    expect(JSON.parse((await get(keys.rolloutControl(project, 'web')))!)).toMatchObject({ rollout: 'r-20261122070000-f00d' });
  });
});

describe('set-version --all over 1,000 hosts', () => {
  const hosts = hostIds(1000);
  afterEach(clearHosts);

  it('sets the fleet key and deletes all 1,000 pins, in transactions etcd accepts, with progress on stderr', async () => {
    await fleetWithPins(hosts);
    await etcd.put(keys.hostDesired(project, hosts[0], 'api')).value(pin('v7')); // another component's pin stays
    expect(await pinsLeft()).toHaveLength(1000);
    const started = Date.now();
    const res = gantry('set-version', 'web', 'v3', '--all');
    const ms = Date.now() - started;
    say(`set-version --all over 1000 host pins (binary, human output): ${ms} ms, exit ${res.status}`);
    expect({ status: res.status, stderr: res.status ? res.stderr : '' }).toMatchObject({ status: 0 });
    const transactions = 1 + Math.ceil((1000 - (MAX_TXN_OPS - 2)) / MAX_TXN_OPS);
    expect(res.stdout).toContain(`set      web v3 at ${keys.fleetDesired(project, 'web')}`);
    expect(res.stdout).toContain(`unpinned 1000 hosts: deleted their pins of web (they follow the fleet now), in ${transactions} transactions`);
    expect(res.stderr).toContain(`cleared ${MAX_TXN_OPS - 2}/1000 host pins`);
    expect(res.stderr.trim().split('\n').pop()).toBe('cleared 1000/1000 host pins');
    expect(await pinsLeft()).toEqual([]);
    expect(JSON.parse((await get(keys.fleetDesired(project, 'web')))!)).toMatchObject({ version: 'v3' });
    expect(await get(keys.hostDesired(project, hosts[0], 'api'))).not.toBeNull();
  });

  it('--json: every deleted pin listed, no progress lines; a rerun with nothing to clear just sets the fleet key', async () => {
    await fleetWithPins(hosts);
    const started = Date.now();
    const res = gantry('set-version', 'web', 'v4', '--all', '--json');
    say(`set-version --all --json over 1000 host pins (binary): ${Date.now() - started} ms`);
    expect(res.status).toBe(0);
    expect(res.stderr).toBe('');
    const result = lastJson(res.stdout);
    expect(result).toMatchObject({ ok: true, version: 'v4', transactions: 11 });
    expect([...result.deleted].sort()).toEqual(hosts.map(web));
    expect(await pinsLeft()).toEqual([]);
    const again = lastJson(gantry('set-version', 'web', 'v4', '--all', '--json').stdout);
    expect(again).toMatchObject({ ok: true, deleted: [], transactions: 1 });
  });

  it('in-process: the time per part, for the record', async () => {
    await fleetWithPins(hosts);
    const fleet = new HookedFleet();
    const started = Date.now();
    const outcome = await applySetVersion(fleet, input('v5'));
    say(`applySetVersion --all over 1000 host pins (in-process): ${Date.now() - started} ms, ${fleet.commits} transactions, ${outcome.pins.deleted.length} deleted`);
    expect(outcome.pins).toMatchObject({ total: 1000, remaining: [], chunks: 10 });
    expect(fleet.commits).toBe(11);
  });
});

describe('pins that change while set-version --all clears them (in-process, writes injected between chunks)', () => {
  const hosts = hostIds(300);
  afterEach(clearHosts);

  it('a pin rewritten between chunks is not deleted; it is reported (exit 1) with what wrote it; the rest of its chunk is still cleared; a rerun finishes', async () => {
    await fleetWithPins(hosts);
    const fleet = new HookedFleet();
    const victim = { key: '', host: '' };
    const outcome = await applySetVersion(fleet, input('v3'), {
      // Before the second chunk: a rollout moves one of the hosts that chunk is about to unpin.
      beforeChunk: async (index, plan) => {
        if (index !== 1) return;
        victim.key = plan.deletes[50];
        victim.host = victim.key.split('/hosts/')[1].split('/')[0];
        await etcd.put(victim.key).value(pin('v9', { setBy: 'r-20261122080000-0001', rollout: 'r-20261122080000-0001' }));
      },
    });
    expect(victim.key).not.toBe('');
    expect(outcome.pins.deleted).toHaveLength(299);
    expect(outcome.pins.deleted).not.toContain(victim.key);
    expect(outcome.pins.remaining).toEqual([{ host: victim.host, key: victim.key, modRevision: expect.any(String), reason: 'newer', version: 'v9', setBy: 'r-20261122080000-0001', rollout: 'r-20261122080000-0001' }]);
    expect(await pinsLeft()).toEqual([victim.key]);
    expect(JSON.parse((await get(victim.key))!)).toMatchObject({ version: 'v9' });

    const err = pinsLeftError({ component: 'web', version: 'v3', command: 'gantry set-version web v3 --all', outcome });
    expect(err.exitCode).toBe(1);
    expect(err.message).toContain('cleared 299 of 300 host pins, but 1 pin of web remain');
    expect(err.message).toContain(`${victim.host}: ${victim.key} written at revision`);
    expect(err.message).toContain('(version v9, rollout r-20261122080000-0001, set by r-20261122080000-0001): left alone');
    expect(err.message).toContain('rerun `gantry set-version web v3 --all`');
    expect(err.details).toMatchObject({ partial: true, remaining: [{ key: victim.key, reason: 'newer' }] });

    const rerun = await applySetVersion(new HookedFleet(), input('v3'));
    expect(rerun.pins).toMatchObject({ deleted: [victim.key], remaining: [] });
    expect(await pinsLeft()).toEqual([]);
  });

  it('a pin written between the read and the version change (older than it) is deleted too', async () => {
    await fleetWithPins(hosts);
    const fleet = new HookedFleet();
    const late = web('late-host');
    fleet.beforeCommit = async (_, n) => {
      if (n === 0) await etcd.put(late).value(pin('v8'));
    };
    const outcome = await applySetVersion(fleet, input('v3'));
    expect(outcome.pins).toMatchObject({ total: 301, remaining: [] });
    expect(outcome.pins.deleted).toContain(late);
    expect(await pinsLeft()).toEqual([]);
  });

  it('etcd failing mid-way: the fleet key is set, exactly the pins not deleted are reported (exit 3), a rerun finishes', async () => {
    await fleetWithPins(hosts);
    const fleet = new HookedFleet();
    fleet.failCommit = (n) => n === 2; // the head and one chunk commit, then etcd "goes away"
    const outcome = await applySetVersion(fleet, input('v3'));
    const left = await pinsLeft();
    expect(left).toHaveLength(300 - (MAX_TXN_OPS - 2) - MAX_TXN_OPS);
    expect(outcome.pins.remaining.map((p) => p.key).sort()).toEqual(left);
    expect(outcome.pins.remaining.every((p) => p.reason === 'unconfirmed')).toBe(true);
    const err = pinsLeftError({ component: 'web', version: 'v3', command: 'gantry set-version web v3 --all', outcome });
    expect(err.exitCode).toBe(3);
    expect(err.message).toContain(`but ${left.length} pins of web remain`);
    expect(err.message).toContain('and 82 more (--json lists them all)');
    expect(err.message).toContain('injected failure of commit 2');
    expect(JSON.parse((await get(keys.fleetDesired(project, 'web')))!)).toMatchObject({ version: 'v3' });

    const rerun = await applySetVersion(new HookedFleet(), input('v3'));
    expect(rerun.pins).toMatchObject({ remaining: [] });
    expect(rerun.pins.deleted.sort()).toEqual(left);
    expect(await pinsLeft()).toEqual([]);
  });
});
