/**
 * The rollout state machine's rules, against the REAL etcd with real `Agent`s (each with its real
 * coordinator candidate, workers and status writer) in this process, over SIMULATED engines
 * (test/support/simulated-host.ts: no Docker, no HAProxy). Every coordinator reads one injected
 * clock, so minReady, the progress deadlines and the gone-host retention are driven by the test;
 * a wait that must NOT end is checked after the coordinator has read the clock again (a pass ran),
 * never after a fixed sleep. Real gantryd processes and traffic: rollout-cancel.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { Etcd3 } from 'etcd3';
import {
  componentStatusSchema,
  coordinatorRecordSchema,
  KeyLayout,
  rolloutHistoryEntrySchema,
  rolloutRequestSchema,
  rolloutStateSchema,
  type ComponentStatus,
  type RolloutControl,
  type RolloutHistoryEntry,
  type RolloutState,
} from '@gantry/spec';
import { serviceEnv, waitFor } from '@gantry/testkit';
import type { EnsureImageRequest, ImageInfo } from '@gantry/agent';
import { Agent } from '../../packages/agent/src/agent/agent';
import { createLogger } from '../../packages/agent/src/agent/logger';
import { demoConfig } from '../support/demo-config';
import { SimulatedProxy, SimulatedRuntime } from '../support/simulated-host';
import { runGantry } from '../support/cli';

const keys = new KeyLayout();
const env = serviceEnv();

/** The coordinators' clock (ms), moved by the test; `reads` counts how often a coordinator looked. */
class FakeClock {
  t = 1_000_000;
  reads = 0;
  read = (): number => {
    this.reads++;
    return this.t;
  };
  advance(ms: number): void {
    this.t += ms;
  }
  /** Resolves once the coordinator has read the clock `n` more times: a whole pass ran after now. */
  async passes(n = 3): Promise<void> {
    const target = this.reads + n;
    await waitFor(() => this.reads >= target, { timeoutMs: 15_000, intervalMs: 10, what: `${n} more coordinator clock reads` });
  }
}

/**
 * A simulated runtime where some tags never resolve (`slow`): the host stays updating. Frozen, every
 * image never resolves: its agent stays registered but finishes nothing (a host stuck, not gone).
 */
class TaggedRuntime extends SimulatedRuntime {
  private release!: () => void;
  private readonly gate = new Promise<void>((resolve) => (this.release = resolve));
  private frozen = false;
  override async ensureImage(ref: string, opts?: EnsureImageRequest): Promise<ImageInfo> {
    if (ref.endsWith(':slow') || this.frozen) await this.gate;
    return super.ensureImage(ref, opts);
  }
  freeze(): void {
    this.frozen = true;
  }
  unblock(): void {
    this.release();
  }
}

/** One project of simulated agents h1…hN on the real etcd, all coordinator candidates on one fake clock. */
class SimFleet {
  readonly project = `rules-${randomBytes(3).toString('hex')}`;
  readonly etcd = new Etcd3({ hosts: env.etcdEndpoints });
  readonly clock = new FakeClock();
  readonly agents = new Map<string, Agent>();
  readonly runtimes = new Map<string, TaggedRuntime>();
  private readonly log = createLogger({ host: 'sim', project: this.project }, process.env.GANTRY_LOG_LEVEL ?? 'error');

  constructor(private readonly coordinator: { historyLimit?: number; goneHostRetentionMs?: number } = {}) {}

  async start(n: number): Promise<void> {
    const config = demoConfig(80, { readyChecks: [], healthChecks: [], drainTimeout: 1_000 });
    await this.etcd.put(keys.config(this.project)).value(JSON.stringify(config));
    await this.etcd.put(keys.fleetDesired(this.project, 'web')).value(JSON.stringify({ version: 'v1', setBy: 'test' }));
    for (let i = 1; i <= n; i++) await this.startAgent(`h${i}`);
    await waitFor(async () => (await Promise.all([...this.agents.keys()].map((h) => this.status(h)))).every((s) => s?.phase === 'running' && s.version === 'v1'), { what: 'every host on v1' });
    // A rollout selects the hosts registered in the coordinator's view when it starts: under load its
    // watch can lag the statuses read above (a canary rollout of h1 and h2 once saw only h1).
    await waitFor(() => [...this.agents.values()].some((a) => a.coordinatorRegisteredHosts() === n), { what: `a coordinator seeing all ${n} hosts registered` });
  }

  async startAgent(hostId: string, resyncMs = 30_000): Promise<Agent> {
    const runtime = this.runtimes.get(hostId) ?? new TaggedRuntime();
    this.runtimes.set(hostId, runtime);
    const agent = new Agent({
      etcd: this.etcd,
      keys,
      engine: { runtime, proxy: new SimulatedProxy() },
      ctx: { project: this.project, hostId, bindAddress: '127.0.0.1', publishAddress: '127.0.0.1' },
      labels: {},
      agentVersion: 'sim',
      log: this.log.child({ host: hostId }),
      leaseTtlS: 2,
      resyncMs,
      coordinator: { clock: this.clock.read, tickMs: 50, ...this.coordinator },
    });
    this.agents.set(hostId, agent);
    await agent.start();
    return agent;
  }

  /** The host's agent stays registered but no update of it finishes any more (see TaggedRuntime). */
  freezeHost(hostId: string): void {
    this.runtimes.get(hostId)!.freeze();
  }

  /** Stops a host's agent (its registration is revoked; its status keys stay). */
  async stopAgent(hostId: string): Promise<void> {
    await this.agents.get(hostId)?.stop();
    this.agents.delete(hostId);
  }

  async leader(): Promise<string | undefined> {
    const text = await this.etcd.get(keys.coordinator(this.project)).string();
    return text === null ? undefined : coordinatorRecordSchema.parse(JSON.parse(text)).hostId;
  }

  async status(host: string): Promise<ComponentStatus | undefined> {
    const text = await this.etcd.get(keys.status(this.project, host, 'web')).string();
    return text === null ? undefined : componentStatusSchema.parse(JSON.parse(text));
  }

  async state(): Promise<RolloutState | undefined> {
    const text = await this.etcd.get(keys.rolloutState(this.project, 'web')).string();
    return text === null ? undefined : rolloutStateSchema.parse(JSON.parse(text));
  }

  /** Waits for the stored state to satisfy `ok`. */
  async stateWhere(ok: (s: RolloutState) => boolean, what: string): Promise<RolloutState> {
    let last: RolloutState | undefined;
    try {
      return await waitFor(async () => {
        last = await this.state();
        return last && ok(last) ? last : undefined;
      }, { timeoutMs: 20_000, intervalMs: 20, what });
    } catch (err) {
      throw new Error(`${(err as Error).message}; the state last read: ${JSON.stringify(last)}`);
    }
  }

  async history(id: string): Promise<RolloutHistoryEntry> {
    const text = await waitFor(async () => (await this.etcd.get(keys.rolloutHistory(this.project, 'web', id)).string()) ?? undefined, { timeoutMs: 20_000, intervalMs: 20, what: `rollout ${id} in history` });
    return rolloutHistoryEntrySchema.parse(JSON.parse(text));
  }

  request(id: string, toVersion: string, policy: Record<string, unknown>, createdAt = new Date()) {
    return rolloutRequestSchema.parse({ id, component: 'web', toVersion, policy, createdBy: 'test', createdAt: createdAt.toISOString() });
  }

  async rollout(id: string, toVersion: string, policy: Record<string, unknown>, createdAt?: Date): Promise<void> {
    await this.etcd.put(keys.rolloutRequest(this.project, 'web')).value(JSON.stringify(this.request(id, toVersion, policy, createdAt)));
  }

  async control(id: string, action: RolloutControl['action'], at = new Date()): Promise<void> {
    await this.etcd.put(keys.rolloutControl(this.project, 'web')).value(JSON.stringify({ rollout: id, action, by: 'ann', at: at.toISOString() } satisfies RolloutControl));
  }

  hostKey(host: string): Promise<string | null> {
    return this.etcd.get(keys.hostDesired(this.project, host, 'web')).string();
  }

  async cleanup(): Promise<void> {
    for (const r of this.runtimes.values()) r.unblock();
    await Promise.all([...this.agents.values()].map((a) => a.stop().catch(() => undefined)));
    await this.etcd.delete().prefix(keys.project(this.project));
    this.etcd.close();
  }
}

/** Every write of `key` seen by a watch while `during` runs. */
async function putsOf(etcd: Etcd3, key: string, during: () => Promise<void>): Promise<number> {
  let puts = 0;
  const watcher = await etcd.watch().key(key).create();
  watcher.on('put', () => puts++);
  try {
    await during();
  } finally {
    await watcher.cancel();
  }
  return puts;
}

describe('rollout rules (real etcd, simulated engines, injected clock)', () => {
  const fleets: SimFleet[] = [];
  const fleet = async (n: number, coordinator: ConstructorParameters<typeof SimFleet>[0] = {}) => {
    const f = new SimFleet(coordinator);
    fleets.push(f);
    await f.start(n);
    return f;
  };
  afterAll(async () => {
    await Promise.all(fleets.map((f) => f.cleanup()));
  }, 60_000);

  it('an agent writes a status when only the observed generation changes, and none while idle', async () => {
    const f = new SimFleet();
    fleets.push(f);
    await f.etcd.put(keys.config(f.project)).value(JSON.stringify(demoConfig(80, { readyChecks: [], healthChecks: [] })));
    const fleetKey = keys.fleetDesired(f.project, 'web');
    await f.etcd.put(fleetKey).value(JSON.stringify({ version: 'v1', setBy: 'test', setAt: new Date().toISOString() }));
    await f.startAgent('h1', 100);
    const revision = async () => Number((await f.etcd.get(fleetKey).exec()).kvs[0].mod_revision);
    const first = await waitFor(async () => {
      const s = await f.status('h1');
      return s?.phase === 'running' && s.observed?.modRevision === (await revision()) ? s : undefined;
    }, { what: 'h1 on v1, observing the fleet key' });
    expect(first.observed).toMatchObject({ key: fleetKey });

    // The same version again (a new value: new setAt, a rollout id): a new status, same container.
    await f.etcd.put(fleetKey).value(JSON.stringify({ version: 'v1', setBy: 'test', setAt: new Date(Date.now() + 1).toISOString(), rollout: 'r-same' }));
    const second = await waitFor(async () => {
      const s = await f.status('h1');
      return s?.observed?.modRevision === (await revision()) ? s : undefined;
    }, { what: 'a status observing the new value' });
    expect(second).toMatchObject({ phase: 'running', version: 'v1', observed: { key: fleetKey, rollout: 'r-same' } });
    expect(second.containers.map((c) => c.id)).toEqual(first.containers.map((c) => c.id));

    // Idle: ten resyncs (each a full converge) write nothing.
    const runtime = f.runtimes.get('h1')!;
    const idleWrites = await putsOf(f.etcd, keys.status(f.project, 'h1', 'web'), async () => {
      const target = (runtime.calls.ensureImage ?? 0) + 10;
      await waitFor(() => (runtime.calls.ensureImage ?? 0) >= target, { timeoutMs: 20_000, intervalMs: 20, what: 'ten idle converges' });
    });
    expect(idleWrites).toBe(0);
  });

  it("min-ready and the progress deadline run on the coordinator's clock, whatever the request's timestamps say", async () => {
    const f = await fleet(2);
    // createdAt 10 minutes in the future: no decision reads it.
    await f.rollout('r-minready', 'v2', { hosts: { ids: ['h1'] }, minReadySeconds: 30, progressDeadlineSeconds: 60 }, new Date(Date.now() + 600_000));
    await f.stateWhere((s) => s.hosts[0]?.result === 'ready', 'h1 ready');
    f.clock.advance(29_000);
    await f.clock.passes();
    expect((await f.state())?.hosts[0].result).toBe('ready');
    f.clock.advance(1_000);
    expect((await f.history('r-minready')).state).toMatchObject({ state: 'succeeded', hosts: [{ id: 'h1', result: 'done' }] });

    // `slow` never resolves on h2: it stays updating until the deadline on the coordinator's clock
    // (no preflight: its pull of `slow` would never end either, and this is about the update's deadline).
    await f.rollout('r-deadline', 'slow', { hosts: { ids: ['h2'] }, progressDeadlineSeconds: 60, preflight: false });
    await f.stateWhere((s) => s.hosts[0]?.result === 'updating', 'h2 updating');
    f.clock.advance(60_000);
    await f.clock.passes();
    expect((await f.state())?.hosts[0].result).toBe('updating');
    f.clock.advance(1);
    expect((await f.history('r-deadline')).state).toMatchObject({ state: 'failed', hosts: [{ id: 'h2', result: 'failed', error: 'not done within 60 s' }] });
  });

  it('after a fleet-wide rollout each host follows the fleet again with the container it started for it', async () => {
    const f = await fleet(2);
    await f.rollout('r-keep', 'v2', { minReadySeconds: 0, preflight: false });
    expect((await f.history('r-keep')).state.state).toBe('succeeded');
    for (const host of ['h1', 'h2']) {
      // Its host key deleted at the finish: the status names the fleet's key (a detail, within seconds).
      const s = await waitFor(async () => {
        const st = await f.status(host);
        return st?.observed?.key === keys.fleetDesired(f.project, 'web') ? st : undefined;
      }, { timeoutMs: 15_000, what: `${host} observing the fleet key` });
      expect(s.containers.map((c) => [c.version, c.role])).toEqual([['v2', 'serving']]);
      // One container for v1, one for v2: none again once the host follows the fleet's key.
      expect(f.runtimes.get(host)!.calls.create).toBe(2);
    }
  });

  it('a new coordinator restarts the clocks of the hosts in flight: never a shorter wait', async () => {
    const f = await fleet(3);
    const leader = (await f.leader())!;
    const host = ['h1', 'h2', 'h3'].find((h) => h !== leader)!;
    await f.rollout('r-failover', 'v2', { hosts: { ids: [host] }, minReadySeconds: 20 });
    await f.stateWhere((s) => s.hosts[0]?.result === 'ready', `${host} ready`);
    f.clock.advance(15_000);
    await f.clock.passes();
    await f.stopAgent(leader);
    const next = await waitFor(async () => {
      const l = await f.leader();
      return l && l !== leader ? l : undefined;
    }, { timeoutMs: 15_000, intervalMs: 20, what: 'another coordinator' });
    await f.clock.passes();
    // 25 s after the host got ready, 10 s after the new coordinator first saw it: not done.
    f.clock.advance(10_000);
    await f.clock.passes();
    expect((await f.state())?.hosts[0].result).toBe('ready');
    f.clock.advance(10_000);
    const entry = await f.history('r-failover');
    expect(entry.state).toMatchObject({ state: 'succeeded', coordinator: next });
  });

  it('a canary resume counts when written after the pause, whatever its `at`; one written before does not', async () => {
    const f = await fleet(3);
    const request = f.request('r-canary', 'v2', { canary: 1 }, new Date(Date.now() + 600_000));
    // A resume stored with the request, stamped 10 minutes ahead: before the pause, so it never counts.
    const early: RolloutControl = { rollout: 'r-canary', action: 'resume', by: 'ann', at: new Date(Date.now() + 600_000).toISOString() };
    await f.etcd
      .if(keys.rolloutRequest(f.project, 'web'), 'Mod', '==', 0)
      .then(f.etcd.put(keys.rolloutRequest(f.project, 'web')).value(JSON.stringify(request)), f.etcd.put(keys.rolloutControl(f.project, 'web')).value(JSON.stringify(early)))
      .commit();
    await f.stateWhere((s) => s.state === 'paused' && s.pausedBy === 'canary', 'the canary pause');
    f.clock.advance(3_600_000);
    await f.clock.passes();
    expect((await f.state())?.state).toBe('paused');
    // Stamped 10 minutes in the past, written after the pause: releases it.
    await f.control('r-canary', 'resume', new Date(Date.now() - 600_000));
    expect((await f.history('r-canary')).state.state).toBe('succeeded');
  });

  it('a rollback that does not finish within the progress deadline fails the rollout, saying so', async () => {
    const f = await fleet(3);
    const leader = (await f.leader())!;
    const [back, lost] = ['h1', 'h2', 'h3'].filter((h) => h !== leader);
    await f.rollout('r-rollback', 'v2', { hosts: { ids: [back, lost] }, batch: { count: 2 }, minReadySeconds: 1_000, progressDeadlineSeconds: 30 });
    await f.stateWhere((s) => s.hosts.every((h) => h.result === 'ready'), 'both hosts ready');
    // `lost`'s host is stuck (registered, finishing nothing): its rollback never completes. (A host
    // whose registration goes is judged at once by --on-host-lost instead: see partition fault tests.)
    f.freezeHost(lost);
    await f.control('r-rollback', 'rollback');
    await f.stateWhere((s) => s.state === 'rolling-back' && s.hosts.find((h) => h.id === back)?.result === 'rolled-back', `${back} rolled back`);
    f.clock.advance(30_000);
    await f.clock.passes();
    expect((await f.state())?.hosts.find((h) => h.id === lost)?.result).toBe('rolling-back');
    f.clock.advance(1);
    const entry = await f.history('r-rollback');
    expect(entry.state.state).toBe('failed');
    expect(entry.state.hosts.find((h) => h.id === lost)).toMatchObject({ result: 'failed', error: 'rollback not done within 30 s' });
    expect(entry.state.message).toMatch(/the rollback did not finish \(.*rollback not done within 30 s\)/);
  });

  it('abort ends a rollout in every state not final: pending, paused, rolling back', async () => {
    const f = await fleet(3);
    const leader = (await f.leader())!;
    // Pending: the request and its abort land together, before any step.
    const request = f.request('r-abort-pending', 'v2', {});
    await f.etcd
      .if(keys.rolloutRequest(f.project, 'web'), 'Mod', '==', 0)
      .then(
        f.etcd.put(keys.rolloutRequest(f.project, 'web')).value(JSON.stringify(request)),
        f.etcd.put(keys.rolloutControl(f.project, 'web')).value(JSON.stringify({ rollout: request.id, action: 'abort', by: 'ann', at: new Date().toISOString() })),
      )
      .commit();
    expect((await f.history('r-abort-pending')).state).toMatchObject({ state: 'aborted', message: 'aborted by ann' });
    for (const h of ['h1', 'h2', 'h3']) expect(await f.hostKey(h)).toBeNull();

    // Paused after the canary: the canary keeps v2, the others are untouched.
    await f.rollout('r-abort-paused', 'v2', { canary: 1 });
    await f.stateWhere((s) => s.state === 'paused', 'the canary pause');
    await f.control('r-abort-paused', 'abort');
    const paused = await f.history('r-abort-paused');
    expect(paused.state.state).toBe('aborted');
    expect(JSON.parse((await f.hostKey('h1'))!)).toMatchObject({ version: 'v2', rollout: 'r-abort-paused' });
    expect([await f.hostKey('h2'), await f.hostKey('h3')]).toEqual([null, null]);

    // Rolling back, with a host that never comes back: abort ends it at once, hosts left as they are.
    const stuck = ['h2', 'h3'].find((h) => h !== leader)!;
    await f.rollout('r-abort-rb', 'v2', { hosts: { ids: [stuck] }, minReadySeconds: 1_000 });
    await f.stateWhere((s) => s.hosts[0]?.result === 'ready', `${stuck} ready`);
    f.freezeHost(stuck);
    await f.control('r-abort-rb', 'rollback');
    await f.stateWhere((s) => s.state === 'rolling-back', 'rolling back');
    await f.control('r-abort-rb', 'abort');
    const rb = await f.history('r-abort-rb');
    expect(rb.state).toMatchObject({ state: 'aborted', message: expect.stringMatching(/^aborted by ann during the rollback/), hosts: [{ id: stuck, result: 'rolling-back' }] });
    expect(JSON.parse((await f.hostKey(stuck))!)).toMatchObject({ version: 'v1', rollout: 'r-abort-rb' });
  });

  it('a rollout whose request is deleted is cancelled: its pins go, other pins stay, history says cancelled', async () => {
    const f = await fleet(3);
    await f.etcd.put(keys.hostDesired(f.project, 'h3', 'web')).value(JSON.stringify({ version: 'v1', setBy: 'ann' }));
    await f.rollout('r-cancel', 'v2', { hosts: { ids: ['h1', 'h2'] }, canary: 1 });
    await f.stateWhere((s) => s.state === 'paused', 'the canary pause');
    const deletedAt = Date.now();
    await f.etcd.delete().key(keys.rolloutRequest(f.project, 'web'));
    const entry = await f.history('r-cancel');
    const cleanupMs = Date.now() - deletedAt;
    console.log(`simulated cancel: request deleted → history cancelled in ${cleanupMs} ms`);
    expect(entry.request).toMatchObject({ id: 'r-cancel', createdBy: 'test' });
    expect(entry.state).toMatchObject({ state: 'cancelled', message: expect.stringContaining("(h1): those hosts follow the fleet's version v1 again") });
    expect(await f.state()).toBeUndefined();
    expect(await f.etcd.get(keys.rolloutControl(f.project, 'web')).string()).toBeNull();
    expect(await f.hostKey('h1')).toBeNull();
    expect(JSON.parse((await f.hostKey('h3'))!)).toMatchObject({ setBy: 'ann' });
    await waitFor(async () => (await f.status('h1'))?.version === 'v1', { what: 'h1 back on the fleet version' });
  });

  it('history keeps the last N rollouts per component (by etcd revision)', async () => {
    const f = await fleet(1, { historyLimit: 3 });
    const old = ['r-old-1', 'r-old-2', 'r-old-3', 'r-old-4', 'r-old-5'];
    for (const id of old) {
      const entry = { request: f.request(id, 'v2', {}), state: { rollout: id, state: 'succeeded', hosts: [], batches: 0, currentBatch: 0, updatedAt: new Date().toISOString() } };
      await f.etcd.put(keys.rolloutHistory(f.project, 'web', id)).value(JSON.stringify(entry));
    }
    await f.rollout('r-new', 'v2', {});
    await f.history('r-new');
    const ids = await waitFor(async () => {
      const all = (await f.etcd.getAll().prefix(keys.rolloutHistory(f.project, 'web')).keys()).map((k) => k.split('/').pop()!);
      return all.length === 3 ? all.sort() : undefined;
    }, { what: 'history trimmed to 3' });
    expect(ids).toEqual(['r-new', 'r-old-4', 'r-old-5']);
  });

  it("removes a gone host's status keys after the retention on the coordinator's clock, never its pins; gantry hosts shows it gone until then", async () => {
    const f = await fleet(3, { goneHostRetentionMs: 5_000 });
    const leader = (await f.leader())!;
    const gone = ['h1', 'h2', 'h3'].find((h) => h !== leader)!;
    await f.etcd.put(keys.hostDesired(f.project, gone, 'web')).value(JSON.stringify({ version: 'v1', setBy: 'ann' }));
    await waitFor(async () => (await f.status(gone))?.observed?.key === keys.hostDesired(f.project, gone, 'web'), { what: `${gone} observing its pin` });
    await f.stopAgent(gone);
    await f.clock.passes();
    const hosts = runGantry(['hosts', '--project', f.project, '--etcd', env.etcdEndpoints[0], '--json'], 30_000);
    expect(hosts.status).toBe(0);
    const listed = JSON.parse(hosts.stdout.trim().split('\n').pop()!);
    expect(listed.hosts.map((h: { hostId: string }) => h.hostId)).not.toContain(gone);
    expect(listed.gone).toEqual([{ host: gone, lastStatusAt: expect.any(String), statuses: ['web'], agent: true, pins: ['web'] }]);

    f.clock.advance(4_999);
    await f.clock.passes();
    expect(await f.status(gone)).toBeDefined();
    f.clock.advance(1);
    await waitFor(async () => (await f.etcd.getAll().prefix(keys.host(f.project, gone)).keys()).join(',') === keys.hostDesired(f.project, gone, 'web'), {
      what: `only ${gone}'s pin left`,
    });
    // The others are untouched.
    for (const h of ['h1', 'h2', 'h3'].filter((x) => x !== gone)) expect(await f.status(h)).toBeDefined();
  });
});
