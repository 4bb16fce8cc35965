/**
 * @gantry/etcd against real etcd: the shared one from scripts/services.sh for the plain cases, and a
 * single-member etcd of this test's own — killed with SIGKILL and restarted on the same data dir and
 * ports — for the faults: a watcher that survives restarts and compactions, a lease whose loss is
 * noticed within its TTL and repaired, keepalives that write nothing, and fenced writes.
 */
import { randomBytes } from 'node:crypto';
import { connect as tcpConnect, createServer, type Server, type Socket } from 'node:net';
import type { Etcd3 } from 'etcd3';
import { connectEtcd, fencedWrite, LeaseKeeper, PrefixWatcher, resolveConnectionOptions, type PrefixChange } from '@gantry/etcd';
import { OwnEtcd, serviceEnv, waitFor } from '@gantry/testkit';

const env = serviceEnv();
const runId = randomBytes(4).toString('hex');
const CALL_TIMEOUT_MS = 2000;

/** Timings measured along the way, printed at the end for the record. */
const timings: Record<string, number> = {};

// Nothing in @gantry/etcd may leak a rejection or an exception into the process.
const leaks: string[] = [];
const onRejection = (reason: unknown) => leaks.push(`unhandledRejection: ${reason instanceof Error ? reason.stack : String(reason)}`);
const onException = (err: Error) => leaks.push(`uncaughtException: ${err.stack}`);
beforeAll(() => {
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
});
afterAll(() => {
  process.off('unhandledRejection', onRejection);
  process.off('uncaughtException', onException);
  if (Object.keys(timings).length) console.info(`etcd timings (ms): ${JSON.stringify(timings, null, 2)}`);
});

const clients: Etcd3[] = [];
function connect(endpoints: string | string[]): Etcd3 {
  const flags = { 'etcd-endpoints': Array.isArray(endpoints) ? endpoints.join(',') : endpoints };
  const client = connectEtcd(resolveConnectionOptions({ flags, env: {} }), { callTimeoutMs: CALL_TIMEOUT_MS });
  clients.push(client);
  return client;
}
afterAll(() => clients.forEach((c) => c.close()));

/** A consumer of a PrefixWatcher: applies snapshots and changes, and checks their order. */
class Mirror {
  view = new Map<string, string>();
  snapshots = 0;
  changes: PrefixChange[] = [];
  violations: string[] = [];
  errors: string[] = [];
  private snapshotRevision = 0;
  private revision = 0;

  readonly onSnapshot = (kvs: Map<string, string>, revision: number) => {
    if (revision < this.revision) this.violations.push(`snapshot at ${revision} after revision ${this.revision}`);
    this.view = new Map(kvs);
    this.snapshots++;
    this.snapshotRevision = this.revision = revision;
  };

  readonly onChange = (change: PrefixChange) => {
    if (change.revision <= this.snapshotRevision) this.violations.push(`change at ${change.revision} not after its snapshot at ${this.snapshotRevision}`);
    if (change.revision < this.revision) this.violations.push(`change at ${change.revision} after revision ${this.revision}`);
    if (change.type === 'put') this.view.set(change.key, change.value);
    else this.view.delete(change.key);
    this.changes.push(change);
    this.revision = change.revision;
  };

  readonly onError = (err: Error) => {
    this.errors.push(err.message);
  };
}

async function readPrefix(client: Etcd3, prefix: string): Promise<Map<string, string>> {
  const res = await client.getAll().prefix(prefix).exec();
  return new Map(res.kvs.map((kv) => [kv.key.toString(), kv.value.toString()]));
}

const sameMap = (a: Map<string, string>, b: Map<string, string>) => a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);

/** Waits until the consumer's view equals what etcd really holds under the prefix. */
async function converged(mirror: Mirror, client: Etcd3, prefix: string, what: string): Promise<void> {
  await waitFor(async () => sameMap(mirror.view, await readPrefix(client, prefix)), { timeoutMs: 30_000, intervalMs: 50, what });
  expect(mirror.violations).toEqual([]);
}

/** Retries a write until etcd takes it: right after a restart the first calls may still fail. */
async function writeWhenUp<T>(write: () => Promise<T>, what: string): Promise<T> {
  return waitFor(
    async () => {
      const result = await write();
      return { result };
    },
    { timeoutMs: 20_000, intervalMs: 50, what },
  ).then((r) => r.result);
}

// ---------------------------------------------------------------------------------------------
// An etcd of our own, to kill.

/**
 * A TCP relay to an etcd that can cut its client off (drop its connections, refuse new ones) while
 * etcd itself stays up: a watcher behind it stays disconnected exactly as long as the test wants.
 */
class Relay {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private open = true;
  port = 0;

  constructor(private readonly targetPort: () => number) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((down) => {
      if (!this.open) return void down.destroy();
      const up = tcpConnect(this.targetPort(), '127.0.0.1');
      for (const [a, b] of [[down, up], [up, down]] as const) {
        this.sockets.add(a);
        a.on('error', () => b.destroy());
        a.on('close', () => {
          this.sockets.delete(a);
          b.destroy();
        });
        a.pipe(b);
      }
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  cut(): void {
    this.open = false;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.open = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server?.close(resolve) ?? resolve(undefined));
  }
}

// =============================================================================================

describe('on the shared etcd', () => {
  const client = connect(env.etcdEndpoints);
  const root = `/gantry-test/${runId}/`;
  afterAll(async () => {
    await client.delete().prefix(root);
  });

  it('delivers a snapshot, then every change under the prefix in revision order', async () => {
    const prefix = `${root}watch/`;
    await client.put(`${prefix}a`).value('1');
    await client.put(`${prefix}b`).value('1');
    const mirror = new Mirror();
    const snapshots: Array<{ keys: string[]; revision: number }> = [];
    const watcher = new PrefixWatcher({
      client,
      prefix,
      onSnapshot: (kvs, revision) => {
        snapshots.push({ keys: [...kvs.keys()], revision });
        mirror.onSnapshot(kvs, revision);
      },
      onChange: mirror.onChange,
      onError: mirror.onError,
    });
    try {
      await watcher.start();
      expect(snapshots).toEqual([{ keys: [`${prefix}a`, `${prefix}b`], revision: expect.any(Number) }]);
      expect(watcher.status()).toMatchObject({ connected: true, resyncs: 0, lastRevision: snapshots[0]!.revision });

      await client.put(`${prefix}c`).value('1');
      await client.delete().key(`${prefix}a`);
      await client.put(`${prefix}b`).value('2');
      await client.put(`${root}watch-sibling/x`).value('not under the prefix');
      // One transaction: two keys at one revision, both delivered.
      await client.if(`${prefix}b`, 'Value', '==', '2').then(client.put(`${prefix}d`).value('1'), client.put(`${prefix}e`).value('1')).commit();
      await converged(mirror, client, prefix, 'the mirror to match the prefix');

      expect(mirror.changes.map((c) => `${c.type} ${c.key.slice(prefix.length)}${c.type === 'put' ? `=${c.value}` : ''}`)).toEqual(['put c=1', 'delete a', 'put b=2', 'put d=1', 'put e=1']);
      const revs = mirror.changes.map((c) => c.revision);
      expect(revs[3]).toBe(revs[4]);
      expect([...revs].sort((x, y) => x - y)).toEqual(revs);
      expect(revs[0]).toBeGreaterThan(snapshots[0]!.revision);
      expect(watcher.status()).toMatchObject({ connected: true, resyncs: 0, lastRevision: revs[4] });
      expect(mirror.errors).toEqual([]);
    } finally {
      await watcher.stop();
    }
    expect(watcher.status()).toMatchObject({ connected: false, stopped: true });
  });

  it('answers a consumer callback that throws with a fresh snapshot, not a crash', async () => {
    const prefix = `${root}throws/`;
    const mirror = new Mirror();
    let thrown = 0;
    const watcher = new PrefixWatcher({
      client,
      prefix,
      onSnapshot: mirror.onSnapshot,
      onChange: (change) => {
        if (thrown++ === 0) throw new Error('consumer bug');
        mirror.onChange(change);
      },
      onError: mirror.onError,
    });
    try {
      await watcher.start();
      await client.put(`${prefix}lost-by-the-consumer`).value('1');
      await converged(mirror, client, prefix, 'the resync after the consumer threw');
      expect(mirror.snapshots).toBe(2);
      expect(watcher.status()).toMatchObject({ resyncs: 1, lastResyncReason: 'onChange threw' });
      expect(mirror.errors).toEqual(['consumer bug']);
      await client.put(`${prefix}next`).value('1');
      await converged(mirror, client, prefix, 'changes after the resync');
    } finally {
      await watcher.stop();
    }
  });

  it('watcher and lease keeper give up, leaving nothing behind, when their client is closed', async () => {
    const own = connect(env.etcdEndpoints);
    const mirror = new Mirror();
    const watcher = new PrefixWatcher({ client: own, prefix: `${root}closed/`, onSnapshot: mirror.onSnapshot, onChange: mirror.onChange, onError: mirror.onError });
    const keeper = new LeaseKeeper(own, { ttlSeconds: 5 });
    await watcher.start();
    await keeper.put(`${root}closed-lease`, 'v');
    own.close();
    // grpc-js keeps an open stream running for ~10 s after close() (see PrefixWatcher): a 10 s
    // deadline raced it (failed 2 runs in 3 with a busy machine).
    await waitFor(() => watcher.status().stopped, { timeoutMs: 30_000, what: 'the watcher to give up' });
    expect(watcher.status().lastError).toMatch(/client was closed/);
    await waitFor(() => keeper.status().state === 'stopped', { timeoutMs: 30_000, what: 'the keeper to give up' });
    await watcher.stop();
    await keeper.stop({ revoke: false });
  });

  it('create-only keys are written only if absent, never over another live lease, not even after a lease loss', async () => {
    const key = `${root}create-only/registration`;
    const conflicts: Array<{ key: string; value: string; leaseId: string }> = [];
    const keeper = new LeaseKeeper(client, { ttlSeconds: 3, onConflict: (k, existing) => conflicts.push({ key: k, value: existing.value, leaseId: existing.leaseId }) });
    try {
      const firstLease = await keeper.start();
      expect(await keeper.putIfAbsent(key, 'first')).toEqual({ outcome: 'written' });
      const stored = (await client.get(key).exec()).kvs[0];
      expect(stored).toMatchObject({ lease: firstLease });
      expect(await keeper.putIfAbsent(key, 'first')).toEqual({ outcome: 'written' }); // already there: no write
      expect((await client.get(key).exec()).kvs[0]?.mod_revision).toBe(stored.mod_revision);

      // A second writer is refused, told what holds the key, and leaves nothing behind.
      const second = new LeaseKeeper(client, { ttlSeconds: 3 });
      expect(await second.putIfAbsent(key, 'second')).toEqual({
        outcome: 'exists',
        existing: { value: 'first', leaseId: firstLease, createRevision: stored.create_revision, modRevision: stored.mod_revision },
      });
      expect(second.status()).toMatchObject({ keys: 0, pendingKeys: 0 });
      await second.stop({ revoke: true });
      expect((await client.get(key).exec()).kvs[0]).toMatchObject({ value: Buffer.from('first'), mod_revision: stored.mod_revision });
      expect(conflicts).toEqual([]);

      // A value under no lease (written by hand) is held by no one alive: it is taken.
      const byHand = `${root}create-only/by-hand`;
      await client.put(byHand).value('garbage');
      const third = new LeaseKeeper(client, { ttlSeconds: 3 });
      expect(await third.putIfAbsent(byHand, 'mine')).toEqual({ outcome: 'written' });
      expect((await client.get(byHand).exec()).kvs[0]).toMatchObject({ value: Buffer.from('mine'), lease: third.status().leaseId });
      await third.stop({ revoke: true });
      expect(await client.get(byHand).string()).toBeNull();

      // Our lease goes; meanwhile another writer created the key. The keeper must not overwrite it.
      const intruder = await client.leaseClient.leaseGrant({ TTL: 30, ID: 0 });
      try {
        await client.put(key).value('intruder').lease(intruder.ID);
        await client.leaseClient.leaseRevoke({ ID: firstLease });
        await waitFor(() => conflicts.length > 0, { timeoutMs: 10_000, intervalMs: 20, what: 'onConflict after the lease loss' });
        expect(conflicts).toEqual([{ key, value: 'intruder', leaseId: intruder.ID }]);
        expect(keeper.status()).toMatchObject({ state: 'alive', losses: 1, keys: 0, pendingKeys: 0 });
        expect(keeper.status().leaseId).not.toBe(firstLease);
        expect((await client.get(key).exec()).kvs[0]).toMatchObject({ value: Buffer.from('intruder'), lease: intruder.ID });
      } finally {
        await client.leaseClient.leaseRevoke({ ID: intruder.ID });
      }
    } finally {
      await keeper.stop({ revoke: true });
    }
  });

  it('fenced writes commit only while the election key holds our value or lease', async () => {
    const election = `${root}election`;
    const target = `${root}rollout`;
    await client.put(election).value('host-a');
    expect(await fencedWrite(client, { electionKey: election, leaderValue: 'host-a' }, [client.put(target).value('1')])).toBe(true);
    expect(await client.get(target).string()).toBe('1');

    await client.put(election).value('host-b'); // someone else won
    expect(await fencedWrite(client, { electionKey: election, leaderValue: 'host-a' }, [client.put(target).value('2'), client.delete().key(election)])).toBe(false);
    expect(await client.get(target).string()).toBe('1');
    expect(await client.get(election).string()).toBe('host-b');

    await client.delete().key(election); // nobody leads
    expect(await fencedWrite(client, { electionKey: election, leaderValue: 'host-a' }, [client.put(target).value('3')])).toBe(false);

    // The lease form, as etcd3's Election writes its leader key under the campaign's lease.
    const grant = await client.leaseClient.leaseGrant({ TTL: 30, ID: 0 });
    try {
      await client.put(election).value('host-a').lease(grant.ID);
      expect(await fencedWrite(client, { electionKey: election, leaseId: grant.ID }, [client.put(target).value('4')])).toBe(true);
      await client.put(election).value('host-a'); // same value, but no longer under our lease
      expect(await fencedWrite(client, { electionKey: election, leaseId: grant.ID }, [client.put(target).value('5')])).toBe(false);
      await client.delete().key(election);
      expect(await fencedWrite(client, { electionKey: election, leaseId: grant.ID }, [client.put(target).value('6')])).toBe(false);
      expect(await client.get(target).string()).toBe('4');
    } finally {
      await client.leaseClient.leaseRevoke({ ID: grant.ID });
    }
  });
});

// =============================================================================================

describe('against an etcd this test kills and restarts', () => {
  const own = new OwnEtcd();
  let writer: Etcd3;
  const stoppers: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    await own.start();
    writer = connect(own.endpoint);
  }, 60_000);
  afterAll(async () => {
    for (const stop of stoppers) await stop().catch(() => undefined);
    await own.destroy();
  });
  afterEach(async () => {
    // Every test leaves its etcd running, even when it failed half-way through an outage.
    if (!(await writer.get('probe').then(() => true, () => false))) await own.start();
  });

  function startWatcher(prefix: string, client: Etcd3 = connect(own.endpoint)) {
    const mirror = new Mirror();
    const watcher = new PrefixWatcher({ client, prefix, onSnapshot: mirror.onSnapshot, onChange: mirror.onChange, onError: mirror.onError });
    stoppers.push(() => watcher.stop());
    return { mirror, watcher };
  }

  it('(a) the watcher survives an etcd restart and sees the writes made right after it', async () => {
    const prefix = `/gantry-test/${runId}/restart/`;
    await writer.put(`${prefix}a`).value('1');
    await writer.put(`${prefix}b`).value('1');
    const { mirror, watcher } = startWatcher(prefix);
    await watcher.start();
    await writer.put(`${prefix}c`).value('1');
    await converged(mirror, writer, prefix, 'the mirror before the restart');

    await own.kill();
    const killedAt = Date.now();
    await waitFor(() => !watcher.status().connected, { timeoutMs: 10_000, intervalMs: 10, what: 'the watcher to notice etcd is gone' });
    timings.watcherNoticesKill = Date.now() - killedAt;

    // While etcd is down a write fails — within its deadline, not never.
    const t0 = Date.now();
    await expect(writer.put(`${prefix}impossible`).value('1').exec()).rejects.toThrow();
    timings.writeFailsWhileDown = Date.now() - t0;
    expect(timings.writeFailsWhileDown).toBeLessThan(CALL_TIMEOUT_MS + 1000);

    await own.start();
    const upAt = own.spawnedAt;
    timings.etcdSpawnToHealthy = Date.now() - upAt;
    // Right after the restart, likely before the watcher has re-read: several changes from another client.
    await writeWhenUp(() => writer.put(`${prefix}d`).value('after-restart').exec(), 'the first write after the restart');
    timings.firstWriteAfterSpawn = Date.now() - upAt;
    await writer.put(`${prefix}a`).value('2');
    await writer.delete().key(`${prefix}b`);
    await writer.put(`${prefix}e`).value('1');
    await converged(mirror, writer, prefix, 'the mirror after the restart');
    await waitFor(() => watcher.status().connected, { timeoutMs: 20_000, intervalMs: 20, what: 'the watch to be re-established' });
    timings.watcherResyncedAfterSpawn = Date.now() - upAt;

    expect(watcher.status().resyncs).toBeGreaterThanOrEqual(1);
    expect(watcher.status().lastResyncReason).toMatch(/^watch stream lost/);
    expect(mirror.view.get(`${prefix}impossible`)).toBeUndefined();
    // ...and it keeps watching.
    await writer.put(`${prefix}f`).value('1');
    await converged(mirror, writer, prefix, 'a change after the resync');
    expect(mirror.changes.at(-1)).toMatchObject({ type: 'put', key: `${prefix}f` });
  });

  it('(b) a compaction past the watcher’s revision while it is disconnected: resync from a snapshot', async () => {
    const prefix = `/gantry-test/${runId}/compact/`;
    await writer.put(`${prefix}a`).value('1');
    // The watcher reaches etcd through a relay, so it stays cut off after the restart until the compaction is done.
    const relay = new Relay(() => Number(new URL(own.endpoint).port));
    await relay.start();
    stoppers.push(() => relay.close());
    const { mirror, watcher } = startWatcher(prefix, connect(relay.endpoint));
    await watcher.start();
    await writer.put(`${prefix}b`).value('1');
    await converged(mirror, writer, prefix, 'the mirror before the outage');
    const seenRevision = watcher.status().lastRevision;
    const resyncsBefore = watcher.status().resyncs;

    relay.cut();
    await own.kill();
    await waitFor(() => !watcher.status().connected, { timeoutMs: 10_000, intervalMs: 10, what: 'the watcher to notice etcd is gone' });
    await own.start();
    await writeWhenUp(() => writer.put(`${prefix}c`).value('1').exec(), 'the first write after the restart');
    await writer.delete().key(`${prefix}a`);
    const last = await writer.put(`${prefix}b`).value('2');
    await writer.kv.compact({ revision: last.header.revision, physical: true });
    // The history from the watcher's revision on is gone, and the watcher has not reconnected yet.
    expect(Number(last.header.revision)).toBeGreaterThan(seenRevision + 1);
    expect(watcher.status()).toMatchObject({ connected: false, lastRevision: seenRevision, resyncs: resyncsBefore });

    relay.restore();
    const restoredAt = Date.now();
    await converged(mirror, writer, prefix, 'the mirror after the compaction');
    await waitFor(() => watcher.status().connected, { timeoutMs: 20_000, intervalMs: 20, what: 'the watch to be re-established' });
    timings.watcherResyncedAfterReconnectable = Date.now() - restoredAt;
    expect(watcher.status().resyncs).toBe(resyncsBefore + 1);
    expect(watcher.status().lastRevision).toBeGreaterThanOrEqual(Number(last.header.revision));
    expect([...mirror.view]).toEqual([[`${prefix}b`, '2'], [`${prefix}c`, '1']]);
  });

  it('(b) a watch whose start revision is compacted before etcd confirms it is canceled, and answered with a resync', async () => {
    const prefix = `/gantry-test/${runId}/compact-race/`;
    await writer.put(`${prefix}a`).value('1');
    // Between the watcher's read of the prefix and its watch, another client writes and compacts the
    // history: the watch then asks for a compacted revision, and etcd cancels it.
    let interfered = false;
    const real = connect(own.endpoint);
    const meddling = new Proxy(real, {
      get(target, prop) {
        if (prop === 'getAll') {
          return () => {
            const builder = target.getAll();
            const exec = builder.exec.bind(builder);
            builder.exec = async () => {
              const res = await exec();
              if (!interfered) {
                interfered = true;
                await writer.put(`${prefix}b`).value('1');
                await writer.delete().key(`${prefix}a`);
                const last = await writer.put(`${prefix}c`).value('1');
                await writer.kv.compact({ revision: last.header.revision, physical: true });
              }
              return res;
            };
            return builder;
          };
        }
        const value: unknown = Reflect.get(target, prop);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const { mirror, watcher } = startWatcher(prefix, meddling);
    await watcher.start();
    await converged(mirror, writer, prefix, 'the mirror after the canceled watch');
    // The resync's read can land before etcd confirms the new watch: connected follows it.
    await waitFor(() => watcher.status().connected, { timeoutMs: 20_000, intervalMs: 20, what: 'the watch to be re-established' });
    expect(interfered).toBe(true);
    expect(mirror.snapshots).toBe(2);
    expect(watcher.status()).toMatchObject({ connected: true, resyncs: 1 });
    expect(watcher.status().lastResyncReason).toMatch(/^watch canceled by etcd/);
    expect([...mirror.view.keys()]).toEqual([`${prefix}b`, `${prefix}c`]);
  });

  it('(c) a lease is declared lost within its TTL when etcd dies, and restored with its keys when etcd returns', async () => {
    const key = `/gantry-test/${runId}/lease/registration`;
    const events: string[] = [];
    let lostAt: number | undefined;
    let restoredAt: number | undefined;
    const keeper = new LeaseKeeper(connect(own.endpoint), {
      ttlSeconds: 2,
      onLost: (reason) => {
        lostAt = Date.now();
        events.push(`lost: ${reason.message}`);
      },
      onRestored: () => {
        restoredAt = Date.now();
        events.push('restored');
      },
    });
    stoppers.push(() => keeper.stop({ revoke: true }));
    const firstLease = await keeper.start();
    await keeper.put(key, 'host-1');
    const stored = (await writer.get(key).exec()).kvs[0];
    expect(stored?.value.toString()).toBe('host-1');
    expect(stored?.lease).toBe(firstLease);

    await own.kill();
    const killedAt = Date.now();
    const lastKeepAlive = keeper.status().lastKeepAliveAt!;
    await waitFor(() => lostAt, { timeoutMs: 10_000, intervalMs: 10, what: 'onLost' });
    timings.leaseLostAfterKill = lostAt! - killedAt;
    timings.leaseLostAfterLastKeepalive = lostAt! - lastKeepAlive;
    // Our own timer: one TTL after the last successful keepalive (etcd3's Lease would wait 2×TTL).
    expect(lostAt! - lastKeepAlive).toBeGreaterThanOrEqual(2000 - 20);
    expect(lostAt! - lastKeepAlive).toBeLessThan(2000 + 500);
    expect(keeper.status()).toMatchObject({ state: expect.stringMatching(/^(lost|granting)$/), losses: 1 });

    // Keep etcd down for longer than the TTL, then bring it back.
    await waitFor(() => Date.now() - killedAt > 2500, { timeoutMs: 5000, intervalMs: 50, what: 'etcd to have been down longer than the TTL' });
    await own.start();
    timings.etcdSpawnToHealthy2 = Date.now() - own.spawnedAt;
    await waitFor(() => restoredAt, { timeoutMs: 20_000, intervalMs: 10, what: 'onRestored' });
    timings.leaseRestoredAfterSpawn = restoredAt! - own.spawnedAt;
    const status = keeper.status();
    expect(status).toMatchObject({ state: 'alive', losses: 1, keys: 1, pendingKeys: 0 });
    expect(status.leaseId).not.toBe(firstLease);
    const again = (await writer.get(key).exec()).kvs[0];
    expect(again?.value.toString()).toBe('host-1');
    expect(again?.lease).toBe(status.leaseId);
    expect(events).toEqual([expect.stringMatching(/^lost: no keepalive of lease \d+ succeeded for 2 s/), 'restored']);

    // The old lease (etcd may revive it on restart) expires without taking the key along.
    await waitFor(async () => (await writer.leaseClient.leaseTimeToLive({ ID: firstLease, keys: false })).TTL === '-1', {
      timeoutMs: 15_000,
      intervalMs: 100,
      what: 'the old lease to expire',
    });
    timings.oldLeaseGoneAfterSpawn = Date.now() - own.spawnedAt;
    expect(await writer.get(key).string()).toBe('host-1');

    await keeper.stop({ revoke: true });
    expect(await writer.get(key).string()).toBeNull();
  });

  it('(c) a create-only key is written again under the new lease when etcd returns — also when etcd revived the old one', async () => {
    const key = `/gantry-test/${runId}/create-only-restart/registration`;
    const conflicts: string[] = [];
    let restored = false;
    const keeper = new LeaseKeeper(connect(own.endpoint), { ttlSeconds: 2, onConflict: (_k, e) => conflicts.push(e.value), onRestored: () => (restored = true) });
    stoppers.push(() => keeper.stop({ revoke: true }));
    const firstLease = await keeper.start();
    expect(await keeper.putIfAbsent(key, 'host-1')).toEqual({ outcome: 'written' });
    const before = (await writer.get(key).exec()).kvs[0];

    await own.kill();
    const killedAt = Date.now();
    await waitFor(() => keeper.status().losses === 1 && Date.now() - killedAt > 2500, { timeoutMs: 10_000, intervalMs: 50, what: 'the lease to be lost' });
    await own.start();
    await waitFor(() => restored, { timeoutMs: 20_000, intervalMs: 10, what: 'onRestored' });
    const after = (await writer.get(key).exec()).kvs[0];
    expect(conflicts).toEqual([]);
    expect(after?.value.toString()).toBe('host-1');
    expect(after?.lease).toBe(keeper.status().leaseId);
    expect(after?.lease).not.toBe(firstLease);
    // Same create revision: etcd still had the key (its old lease revived on restart) and it was moved, not re-created.
    console.info(`create-only key after etcd restart: ${after?.create_revision === before.create_revision ? 'moved from the revived old lease' : 're-created (the old lease had expired)'}`);

    // The old lease expires without taking the key along.
    await waitFor(async () => (await writer.leaseClient.leaseTimeToLive({ ID: firstLease, keys: false })).TTL === '-1', { timeoutMs: 15_000, intervalMs: 100, what: 'the old lease to expire' });
    expect(await writer.get(key).string()).toBe('host-1');
    await keeper.stop({ revoke: true });
    expect(await writer.get(key).string()).toBeNull();
  });

  it('(c) an outage shorter than the TTL is ridden out: same lease, no loss, no rewrite', async () => {
    const key = `/gantry-test/${runId}/short-outage/registration`;
    const lost: string[] = [];
    const keeper = new LeaseKeeper(connect(own.endpoint), { ttlSeconds: 6, onLost: (reason) => lost.push(reason.message) });
    stoppers.push(() => keeper.stop({ revoke: true }));
    const leaseId = await keeper.start();
    await keeper.put(key, 'v');
    const modRevision = (await writer.get(key).exec()).kvs[0]?.mod_revision;

    await own.kill();
    await own.start();
    const keepalives = keeper.status().keepalives;
    await waitFor(() => keeper.status().keepalives > keepalives, { timeoutMs: 10_000, intervalMs: 20, what: 'keepalives to resume' });
    timings.keepalivesResumeAfterSpawn = Date.now() - own.spawnedAt;
    expect(lost).toEqual([]);
    expect(keeper.status()).toMatchObject({ state: 'alive', leaseId, losses: 0, pendingKeys: 0 });
    expect((await writer.get(key).exec()).kvs[0]?.mod_revision).toBe(modRevision);
  });

  it('(d) keeping a lease alive writes nothing: the revision does not move while nothing changes', async () => {
    const key = `/gantry-test/${runId}/idle/registration`;
    const keeper = new LeaseKeeper(connect(own.endpoint), { ttlSeconds: 2 });
    stoppers.push(() => keeper.stop({ revoke: true }));
    await keeper.put(key, 'v');
    const before = Number((await writer.get(key).exec()).header.revision);
    const keepalivesBefore = keeper.status().keepalives;
    const t0 = Date.now();
    await keeper.put(key, 'v'); // the same value again: no write
    await waitFor(() => keeper.status().keepalives >= keepalivesBefore + 4, { timeoutMs: 10_000, intervalMs: 20, what: 'four keepalives' });
    timings.keepaliveInterval = Math.round((Date.now() - t0) / 4);
    const after = Number((await writer.get(key).exec()).header.revision);
    expect(after).toBe(before);
    expect(keeper.status()).toMatchObject({ state: 'alive', losses: 0, pendingKeys: 0 });
    await keeper.stop({ revoke: true });
  });
});

describe('the process', () => {
  it('saw no unhandled rejection or uncaught exception', () => {
    expect(leaks).toEqual([]);
  });
});
