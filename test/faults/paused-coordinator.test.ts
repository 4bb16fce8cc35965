/**
 * A paused coordinator: the coordinating gantryd (h1) is SIGSTOPped mid-rollout, past its lease TTL.
 * Another agent takes the coordinator key and finishes the rollout; only then is h1 continued. It
 * wakes with a stale view (the rollout half done, h2 updating) and timers long overdue; it must not
 * act on it: no write of the rollout or coordinator keys from it reaches etcd, and it does not even
 * try one (its own clock says its lease may be gone before any callback has run). Every host is
 * updated exactly once. HAProxy outlives a stopped agent: h1 serves throughout.
 */
import { randomBytes } from 'node:crypto';
import { Etcd3 } from 'etcd3';
import { Election, type ElectionOptions } from '@gantry/agent';
import { fencedCommit, PrefixWatcher } from '@gantry/etcd';
import { ensureDemoImages, loadTotals, serviceEnv, startLoad, waitFor } from '@gantry/testkit';
import { keys } from '../support/fleet';
import { recordFault } from './fault-report';
import { StagedFleet } from './staged-fleet';

beforeAll(() => ensureDemoImages(), 600_000);

describe('a coordinator paused past its lease TTL mid-rollout', () => {
  let fleet: StagedFleet;
  beforeAll(async () => {
    fleet = new StagedFleet(serviceEnv().etcdEndpoints, 'paused');
    await fleet.startStaged(3);
  }, 180_000);
  afterAll(async () => {
    // Never leave a stopped process behind.
    for (const a of fleet?.agents ?? []) if (a.pid !== undefined && a.running) process.kill(a.pid, 'SIGCONT');
    await fleet?.cleanup();
  }, 120_000);

  it('another agent finishes the rollout; continued, the old one writes nothing and every host was updated once', async () => {
    const project = fleet.project;
    const old = fleet.agents[0];
    expect(await fleet.coordinator()).toBe('h1');
    const loads = fleet.agents.map((_, i) => startLoad({ url: fleet.url(i), connections: 2, rate: 30 }));
    await waitFor(() => loads.every((l) => l.snapshot().ok > 10), { what: 'load to flow' });
    const containers = fleet.containerWatch();

    // Every write under the project, with its revision.
    const writes: Array<{ key: string; type: string; value?: string; revision: number }> = [];
    const watcher = new PrefixWatcher({
      client: fleet.etcd,
      prefix: keys.project(project),
      onSnapshot: () => undefined,
      onChange: (c) => void writes.push({ key: c.key, type: c.type, value: c.type === 'put' ? c.value : undefined, revision: c.revision }),
    });
    await watcher.start();

    const id = await fleet.deploy('v2', ['--batch', '1', '--min-ready', '2']);
    // Pause h1 once its own host is done and h2 is updating: it has work left it would plan.
    await waitFor(
      async () => {
        const hosts = (await fleet.state())?.hosts;
        return hosts?.[0].result === 'done' && hosts[1].result === 'updating';
      },
      { timeoutMs: 90_000, intervalMs: 50, what: 'h1 done and h2 updating' },
    );
    const stoppedAt = Date.now();
    process.kill(old.pid!, 'SIGSTOP');

    const next = await waitFor(
      async () => {
        const who = await fleet.coordinator();
        return who !== undefined && who !== 'h1' ? who : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 50, what: 'another agent to take the coordinator key' },
    );
    const takeoverMs = Date.now() - stoppedAt;
    const entry = await fleet.history(id);
    const finishedMs = Date.now() - stoppedAt;
    expect(entry.state.state).toBe('succeeded');
    expect(entry.state.coordinator).toBe(next);

    // Continue h1 with its stale view. From this revision on, nothing it writes may reach the rollout or the coordinator key.
    const contRevision = Number((await fleet.etcd.get(keys.coordinator(project)).exec()).header.revision);
    const logMark = old.logs.length;
    const contAt = Date.now();
    process.kill(old.pid!, 'SIGCONT');
    // It notices it no longer leads, registers again and runs the fleet's v2 (its host key is gone).
    await waitFor(() => old.logs.slice(logMark).some((l) => l.includes('no longer rollout coordinator')), { timeoutMs: 30_000, what: `h1 to step down\n${old.tail()}` });
    await waitFor(
      async () => {
        if (!(await fleet.registered(0))) return false;
        const s = await fleet.status(0);
        return s?.phase === 'running' && s.version === 'v2' && s.observed?.key === keys.fleetDesired(project, 'web');
      },
      { timeoutMs: 60_000, intervalMs: 50, what: `h1 to register again and observe the fleet key\n${old.tail()}` },
    );
    const recoveryMs = Date.now() - contAt;
    // A stale pass would have run by now: the overdue tick and the buffered watch events are handled
    // on its first turns of the event loop, long before it has re-registered.
    await watcher.stop();
    const reports = await Promise.all(loads.map((l) => l.stop()));
    const seen = await containers.stop();
    const totals = loadTotals(reports);

    const after = writes.filter((w) => w.revision > contRevision);
    const rolloutWrites = after.filter((w) => w.key.startsWith(keys.rolloutsPrefix(project)) || w.key === keys.coordinator(project));
    const fromOld = rolloutWrites.filter((w) => w.value !== undefined && /"(coordinator|hostId)":"h1"/.test(w.value));
    const desiredAfter = after.filter((w) => keys.parse(w.key)?.kind === 'host-desired' || keys.parse(w.key)?.kind === 'fleet-desired');
    const attempts = old.logs.slice(logMark).filter((l) => /rollout step|write skipped|removed the status keys|rollout cancelled/.test(l));
    const hostKeyPuts: Record<string, number> = {};
    for (const w of writes) {
      const ref = keys.parse(w.key);
      if (ref?.kind === 'host-desired' && w.type === 'put') hostKeyPuts[ref.host] = (hostKeyPuts[ref.host] ?? 0) + 1;
    }
    const v2Created = Object.fromEntries([...seen].map(([host, byVersion]) => [host, byVersion.get('v2')?.size ?? 0]));
    console.log(
      `paused coordinator: ${JSON.stringify({ takeoverMs, finishedMs, recoveryMs, next, writesAfterCont: after.length, rolloutWritesAfterCont: rolloutWrites.length, fromOld: fromOld.length, attempts, hostKeyPuts, v2Created, sent: totals.sent, failed: totals.failed })}`,
    );
    recordFault({
      fault: 'rollout coordinator paused past its lease TTL (SIGSTOP) mid-rollout',
      injected: 'SIGSTOP of the coordinating gantryd once its host was done and the next was updating; SIGCONT after another agent had finished the rollout',
      sent: totals.sent,
      failed: totals.failed,
      recoveryMs,
      replaced: Object.values(v2Created).reduce((n, c) => n + Math.max(0, c - 1), 0),
      note: `takeover ${takeoverMs} ms after the SIGSTOP (lease TTL 3 s), rollout finished by ${next} ${finishedMs} ms after it; continued, the old coordinator wrote ${fromOld.length} rollout/coordinator keys and attempted ${attempts.length} writes; recovery = SIGCONT to it registered again on the fleet's v2; load on all 3 frontends`,
    });

    expect(takeoverMs).toBeLessThanOrEqual(3_000 + 4_000);
    expect(fromOld).toEqual([]);
    expect(rolloutWrites).toEqual([]);
    expect(desiredAfter).toEqual([]);
    expect(attempts).toEqual([]);
    expect(entry.state.hosts.map((h) => [h.id, h.result])).toEqual([['h1', 'done'], ['h2', 'done'], ['h3', 'done']]);
    expect(hostKeyPuts).toEqual({ h1: 1, h2: 1, h3: 1 });
    expect(v2Created).toEqual({ h1: 1, h2: 1, h3: 1 });
    expect({ failed: totals.failed, samples: totals.samples }).toEqual({ failed: 0, samples: [] });
    await fleet.converged('v2');
  }, 300_000);
});

describe('the election under a pause (the property the coordinator relies on)', () => {
  const quiet = { info: () => undefined, warn: () => undefined, debug: () => undefined, error: () => undefined } as unknown as ElectionOptions['log'];

  it('a leader blocked past its TTL says it does not lead before any callback has run, and a write it sends anyway is refused', async () => {
    const key = `/gantry-test/election-pause-${randomBytes(3).toString('hex')}/coordinator`;
    const a = new Etcd3({ hosts: serviceEnv().etcdEndpoints });
    const b = new Etcd3({ hosts: serviceEnv().etcdEndpoints });
    const first = new Election({ etcd: a, key, hostId: 'a', leaseTtlS: 2, log: quiet });
    const second = new Election({ etcd: b, key, hostId: 'b', leaseTtlS: 2, log: quiet });
    try {
      await first.start();
      await waitFor(() => first.isLeader(), { timeoutMs: 10_000, what: 'a to lead' });
      await second.start();
      const leaderValue = first.leaderValue!;
      // The event loop is held past the TTL: no timer, keepalive or watch event runs meanwhile.
      const until = Date.now() + 2_600;
      while (Date.now() < until) {
        // a pause, as SIGSTOP or a long GC would make one
      }
      // Checked at once, before any callback: its own clock says the lease may be gone.
      expect(first.isLeader()).toBe(false);
      expect(first.leaderValue).toBeUndefined();
      // Both candidates share this process, so b was paused too and both leases lapsed: either may win
      // the campaign that follows (a with a fresh lease). What matters is that a's old record is gone.
      await waitFor(async () => first.isLeader() || second.isLeader() ? (await a.get(key).string()) !== leaderValue : false, { timeoutMs: 15_000, what: 'a new leader record' });
      // A write sent with the old record anyway: etcd refuses it (the fence).
      const res = await fencedCommit(a, { electionKey: key, leaderValue }, [a.put(`${key}-x`).value('stale')]);
      expect(res.succeeded).toBe(false);
      expect(await a.get(`${key}-x`).string()).toBeNull();
    } finally {
      await first.stop();
      await second.stop();
      await a.delete().prefix(key);
      a.close();
      b.close();
    }
  }, 60_000);
});
