/**
 * Rolling updates driven by the elected coordinator among five real gantryd agents (127.0.1.N, one
 * shared dockerd, one HAProxy each): batches under load, a failing version halting the rollout (and
 * rolling back), and the coordinator SIGKILLed mid-rollout.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { DockerContainerRuntime } from '@gantry/agent';
import { PrefixWatcher } from '@gantry/etcd';
import {
  componentStatusSchema,
  rolloutHistoryEntrySchema,
  rolloutRequestSchema,
  rolloutStateSchema,
  type ComponentStatus,
  type RolloutHistoryEntry,
} from '@gantry/spec';
import { ensureDemoImages, loadTotals, serviceEnv, startLoad, waitFor } from '@gantry/testkit';
import { Fleet, keys } from '../support/fleet';
import { cliEnv, gantryBin, runGantry } from '../support/cli';

const HOSTS = 5;

/** The fleet, plus what rollout tests read: requests, history, the coordinator, containers over time. */
class RolloutFleet extends Fleet {
  /** Writes a rollout request, as `gantry deploy` would. */
  async rollout(id: string, toVersion: string, policy: Record<string, unknown>): Promise<void> {
    const request = rolloutRequestSchema.parse({ id, component: 'web', toVersion, policy, createdBy: 'test', createdAt: new Date().toISOString() });
    await this.etcd.put(keys.rolloutRequest(this.project, 'web')).value(JSON.stringify(request));
  }

  async history(id: string, timeoutMs = 180_000): Promise<RolloutHistoryEntry> {
    const text = await waitFor(async () => (await this.etcd.get(keys.rolloutHistory(this.project, 'web', id)).string()) ?? undefined, {
      timeoutMs,
      intervalMs: 250,
      what: `rollout ${id} in history\n${this.agents.map((a) => a.tail(8)).join('\n')}`,
    });
    return rolloutHistoryEntrySchema.parse(JSON.parse(text));
  }

  /** Every v-container id each host ever had while `poll` ran. */
  containerWatch(): { stop: () => Promise<Map<string, Map<string, Set<string>>>> } {
    const runtime = new DockerContainerRuntime({ dockerHost: serviceEnv().dockerHost });
    const seen = new Map<string, Map<string, Set<string>>>();
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        for (const agent of this.agents) {
          const host = agent.spec.hostId;
          for (const c of await runtime.list({ project: this.project, hostId: host }).catch(() => [])) {
            const byVersion = seen.get(host) ?? new Map<string, Set<string>>();
            seen.set(host, byVersion);
            const ids = byVersion.get(c.version) ?? new Set<string>();
            byVersion.set(c.version, ids);
            ids.add(c.id);
          }
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    return {
      stop: async () => {
        stopped = true;
        await loop;
        return seen;
      },
    };
  }
}

/** Watches every host's status and tracks the most hosts moving to `version` at once. */
function trackUpdating(fleet: Fleet, version: string) {
  const statuses = new Map<string, ComponentStatus>();
  let max = 0;
  const statusPrefix = keys.hostsPrefix(fleet.project);
  const recount = () => {
    const n = [...statuses.values()].filter((s) => s.targetVersion === version && !(s.phase === 'running' && s.version === version)).length;
    max = Math.max(max, n);
  };
  const take = (key: string, value: string | undefined) => {
    const parsed = keys.parse(key);
    if (parsed?.kind !== 'status' || parsed.component !== 'web') return;
    if (value === undefined) statuses.delete(parsed.host);
    else statuses.set(parsed.host, componentStatusSchema.parse(JSON.parse(value)));
    recount();
  };
  const watcher = new PrefixWatcher({
    client: fleet.etcd,
    prefix: statusPrefix,
    onSnapshot: (kvs) => {
      statuses.clear();
      for (const [k, v] of kvs) take(k, v);
    },
    onChange: (c) => take(c.key, c.type === 'put' ? c.value : undefined),
  });
  return {
    start: () => watcher.start(),
    stop: async () => {
      await watcher.stop();
      return max;
    },
  };
}

const lost = loadTotals;

beforeAll(() => ensureDemoImages(), 600_000);

describe('rolling updates across five agents', () => {
  let fleet: RolloutFleet;
  beforeAll(async () => {
    fleet = RolloutFleet.onServices('rollout');
    await fleet.startServing(HOSTS, 'v1', { readyTimeout: 4_000, drainTimeout: 5_000 });
  }, 180_000);
  afterAll(() => fleet?.cleanup(), 120_000);

  it('rolls v2 out two hosts at a time under load, losing no request, then hands over to the fleet key', async () => {
    const tracker = trackUpdating(fleet, 'v2');
    await tracker.start();
    const loads = fleet.agents.map((_, i) => startLoad({ url: fleet.url(i), connections: 2, rate: 50 }));
    await waitFor(() => loads.every((l) => l.snapshot().ok > 10), { what: 'load to flow' });

    await fleet.rollout('to-v2', 'v2', { batch: { count: 2 } });
    const entry = await fleet.history('to-v2');
    await fleet.converged('v2');
    const reports = await Promise.all(loads.map((l) => l.stop()));
    const maxUpdating = await tracker.stop();
    const totals = lost(reports);
    console.log(`rollout to v2: ${JSON.stringify({ maxUpdating, sent: totals.sent, failed: totals.failed, coordinator: entry.state.coordinator })}`);

    expect(entry.state.state).toBe('succeeded');
    expect(entry.state.hosts.map((h) => [h.id, h.batch, h.fromVersion, h.result])).toEqual([
      ['h1', 0, 'v1', 'done'],
      ['h2', 0, 'v1', 'done'],
      ['h3', 1, 'v1', 'done'],
      ['h4', 1, 'v1', 'done'],
      ['h5', 2, 'v1', 'done'],
    ]);
    expect(maxUpdating).toBeGreaterThanOrEqual(1);
    expect(maxUpdating).toBeLessThanOrEqual(2);
    expect({ failed: totals.failed, samples: totals.samples }).toEqual({ failed: 0, samples: [] });
    expect(totals.sent).toBeGreaterThan(100);
    expect(await fleet.etcd.get(keys.rolloutRequest(fleet.project, 'web')).string()).toBeNull();
    expect(await fleet.etcd.get(keys.rolloutState(fleet.project, 'web')).string()).toBeNull();
    expect(JSON.parse((await fleet.etcd.get(keys.fleetDesired(fleet.project, 'web')).string())!)).toMatchObject({ version: 'v2', rollout: 'to-v2' });
    for (let i = 0; i < HOSTS; i++) expect(await fleet.hostKey(i)).toBeNull();
  }, 300_000);

  it('a broken version halts after the first batch, the other hosts untouched; autoRollback returns the batch', async () => {
    const loads = fleet.agents.map((_, i) => startLoad({ url: fleet.url(i), connections: 2, rate: 50 }));
    await waitFor(() => loads.every((l) => l.snapshot().ok > 10), { what: 'load to flow' });
    const watched: string[] = [];
    const hostKeyWatcher = new PrefixWatcher({
      client: fleet.etcd,
      prefix: keys.hostsPrefix(fleet.project),
      onSnapshot: () => undefined,
      onChange: (c) => {
        const parsed = keys.parse(c.key);
        if (parsed?.kind === 'host-desired') watched.push(`${c.type} ${parsed.host} ${c.type === 'put' ? c.value : ''}`);
      },
    });
    await hostKeyWatcher.start();

    // Without rollback: halts, failed; h1 and h2 told to run `broken`, keep serving v2.
    await fleet.rollout('to-broken', 'broken', { batch: { count: 2 } });
    const failed = await fleet.history('to-broken');
    expect(failed.state.state).toBe('failed');
    expect(failed.state.hosts.map((h) => h.result).slice(2)).toEqual(['pending', 'pending', 'pending']);
    expect(failed.state.hosts.slice(0, 2).some((h) => h.result === 'failed')).toBe(true);
    for (const i of [2, 3, 4]) expect(await fleet.hostKey(i)).toBeNull();
    // The operator puts h1, h2 back on the fleet's version.
    for (const i of [0, 1]) await fleet.etcd.delete().key(keys.hostDesired(fleet.project, fleet.agents[i].spec.hostId, 'web'));
    await fleet.converged('v2');

    // With autoRollback: the first batch goes back to v2 on its own.
    await fleet.rollout('to-broken-2', 'broken', { batch: { count: 2 }, autoRollback: true });
    const rolledBack = await fleet.history('to-broken-2');
    expect(rolledBack.state.state).toBe('rolled-back');
    expect(rolledBack.state.hosts.map((h) => h.result)).toEqual(['rolled-back', 'rolled-back', 'pending', 'pending', 'pending']);
    for (const i of [0, 1]) expect(JSON.parse((await fleet.hostKey(i))!)).toMatchObject({ version: 'v2', rollout: 'to-broken-2' });
    await fleet.converged('v2');

    await hostKeyWatcher.stop();
    const reports = await Promise.all(loads.map((l) => l.stop()));
    const totals = lost(reports);
    console.log(`broken rollouts: ${JSON.stringify({ sent: totals.sent, failed: totals.failed, hostKeyChanges: watched.length })}`);
    // h3..h5's host keys were never written.
    expect(watched.filter((w) => / h[345] /.test(w))).toEqual([]);
    for (const i of [2, 3, 4]) expect(await fleet.hostKey(i)).toBeNull();
    expect({ failed: totals.failed, samples: totals.samples }).toEqual({ failed: 0, samples: [] });

    for (const i of [0, 1]) await fleet.etcd.delete().key(keys.hostDesired(fleet.project, fleet.agents[i].spec.hostId, 'web'));
  }, 300_000);

  it('another agent takes over when the coordinator is SIGKILLed mid-rollout; no host is updated twice', async () => {
    await fleet.converged('v2');
    const containers = fleet.containerWatch();
    // Every write of a host key to v1: a coordinator re-updating a host would write it again.
    const hostKeyWrites = new Map<string, number>();
    const hostKeyWatcher = new PrefixWatcher({
      client: fleet.etcd,
      prefix: keys.hostsPrefix(fleet.project),
      onSnapshot: () => undefined,
      onChange: (c) => {
        const parsed = keys.parse(c.key);
        if (parsed?.kind === 'host-desired' && c.type === 'put' && JSON.parse(c.value).version === 'v1') hostKeyWrites.set(parsed.host, (hostKeyWrites.get(parsed.host) ?? 0) + 1);
      },
    });
    await hostKeyWatcher.start();
    // The killed coordinator's host loses its registration too: if it is updating then (or still
    // gone when its batch starts) it is skipped, not waited for (the default, fail, would end the rollout).
    await fleet.rollout('back-to-v1', 'v1', { batch: { count: 1 }, minReadySeconds: 1, onHostLost: 'skip' });
    // Kill the coordinator once the rollout is under way (at least one host done).
    await waitFor(
      async () => {
        const text = await fleet.etcd.get(keys.rolloutState(fleet.project, 'web')).string();
        return text !== null && rolloutStateSchema.parse(JSON.parse(text)).hosts.some((h) => h.result === 'done');
      },
      { timeoutMs: 90_000, intervalMs: 100, what: 'the first host done' },
    );
    const leader = (await fleet.coordinator())!;
    // A host's agent, or (on etcd-secure, where hosts may not coordinate) a coordinator of its own.
    const index = fleet.agents.findIndex((a) => a.spec.hostId === leader);
    const killedAt = Date.now();
    await fleet.processOf(leader)!.kill('SIGKILL');
    const next = await waitFor(async () => {
      const id = await fleet.coordinator();
      return id !== undefined && id !== leader ? id : undefined;
    }, { timeoutMs: 15_000, intervalMs: 50, what: 'another coordinator' });
    const takeoverMs = Date.now() - killedAt;
    // The killed host comes back (its agent restarted), as an operator's supervisor would.
    if (index >= 0) await fleet.restart(index);

    const entry = await fleet.history('back-to-v1');
    await fleet.converged('v1');
    const seen = await containers.stop();
    await hostKeyWatcher.stop();
    const v1Created = Object.fromEntries([...seen].map(([host, byVersion]) => [host, byVersion.get('v1')?.size ?? 0]));
    console.log(`takeover: ${JSON.stringify({ killed: leader, next, takeoverMs, v1Created, hostKeyWrites: Object.fromEntries(hostKeyWrites), finishedBy: entry.state.coordinator })}`);

    // Within the lease TTL (3 s) plus slack for a loaded machine: the new leader waits for etcd to expire the old lease.
    expect(takeoverMs).toBeLessThanOrEqual(3_000 + 3_000);
    expect(entry.state.state).toBe('succeeded');
    expect(entry.state.coordinator).not.toBe(leader);
    expect(entry.state.hosts.every((h) => h.result === 'done' || (h.id === leader && h.result === 'skipped'))).toBe(true);
    // Each host told to move once, by whichever coordinator led (the killed one at most once: not at all if skipped before its turn).
    for (const h of ['h1', 'h2', 'h3', 'h4', 'h5']) expect(h === leader ? (hostKeyWrites.get(h) ?? 0) <= 1 : hostKeyWrites.get(h) === 1).toBe(true);
    // One v1 container per host — except maybe on the killed host: its own agent died too, possibly
    // mid-update, and its restarted agent may replace the container it left half-made.
    for (const [host, n] of Object.entries(v1Created)) expect(host === leader ? n >= 1 && n <= 2 : n === 1).toBe(true);
    expect(Object.keys(v1Created).sort()).toEqual(['h1', 'h2', 'h3', 'h4', 'h5']);
  }, 300_000);

  it('goes on when the CLI that started it is killed, and `gantry rollout watch` re-attaches', async () => {
    await fleet.converged('v1');
    const gantry = (...args: string[]) => spawn(process.execPath, [gantryBin, ...args, ...fleet.cliArgs(), '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env: cliEnv });
    const linesOf = (child: ReturnType<typeof gantry>) => {
      const lines: string[] = [];
      createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
      return lines;
    };
    const deploy = gantry('deploy', fleet.project, 'web', '--tag', 'v2', '--batch', '1', '--min-ready', '1');
    const deployLines = linesOf(deploy);
    await waitFor(() => deployLines.some((l) => (JSON.parse(l) as { event: string }).event === 'change'), { what: 'the deploy to show progress', timeoutMs: 30_000 });
    const deployExit = new Promise((resolve) => deploy.once('exit', resolve));
    deploy.kill('SIGKILL');
    await deployExit;

    const watch = gantry('rollout', 'watch', fleet.project, 'web');
    const watchLines = linesOf(watch);
    const code = await new Promise<number | null>((resolve) => watch.once('exit', resolve));
    const result = JSON.parse(watchLines[watchLines.length - 1]) as { event: string; state: string; ok: boolean };
    expect({ code, event: result.event, state: result.state }).toEqual({ code: 0, event: 'result', state: 'succeeded' });
    await fleet.converged('v2');
  }, 300_000);

  it('pauses after the canary host until `gantry rollout resume`, then finishes', async () => {
    await fleet.converged('v2');
    await fleet.rollout('canary-v1', 'v1', { batch: { count: 2 }, canary: 1 });
    const paused = await waitFor(
      async () => {
        const text = await fleet.etcd.get(keys.rolloutState(fleet.project, 'web')).string();
        const state = text === null ? undefined : rolloutStateSchema.parse(JSON.parse(text));
        return state?.state === 'paused' ? state : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 100, what: 'the rollout to pause after its canary' },
    );
    expect(paused.pausedBy).toBe('canary');
    expect(paused.hosts.map((h) => h.result)).toEqual(['done', 'pending', 'pending', 'pending', 'pending']);
    // Paused means paused: the other hosts' keys stay unwritten.
    for (let i = 1; i < 5; i++) expect(JSON.parse((await fleet.hostKey(i)) ?? '{}').version).not.toBe('v1');

    const resume = runGantry(['rollout', 'resume', fleet.project, 'web', ...fleet.cliArgs()]);
    expect(resume.status).toBe(0);
    const entry = await fleet.history('canary-v1');
    expect(entry.state.state).toBe('succeeded');
    await fleet.converged('v1');
  }, 300_000);
});
