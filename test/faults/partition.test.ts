/**
 * Partitions: three real gantryd; h2 reaches etcd only through a TCP relay. Mid-rollout, while h2
 * is updating in its batch, the relay is blackholed. h2 keeps serving what it runs (load on its
 * frontend loses nothing); the coordinator (h1, elected before h2 started) sees h2's registration
 * expire and fails the rollout naming h2 (--on-host-lost fail) or skips h2 and finishes with the
 * others (skip) within about the lease TTL (3 s), not at the 600 s progress deadline. Healed, h2
 * registers again and converges to what etcd says.
 */
import { componentStatusSchema } from '@gantry/spec';
import { ensureDemoImages, loadTotals, serviceEnv, startLoad, waitFor } from '@gantry/testkit';
import { runGantry } from '../support/cli';
import { keys } from '../support/fleet';
import { TcpRelay } from '../support/tcp-relay';
import { recordFault } from './fault-report';
import { StagedFleet } from './staged-fleet';

const LEASE_TTL_MS = 3_000;

beforeAll(() => ensureDemoImages(), 600_000);

describe('an agent partitioned from etcd mid-rollout', () => {
  let fleet: StagedFleet;
  let relay: TcpRelay;

  beforeAll(async () => {
    const target = new URL(serviceEnv().etcdEndpoints[0]);
    relay = new TcpRelay({ host: target.hostname, port: Number(target.port) });
    await relay.start();
    fleet = new StagedFleet(serviceEnv().etcdEndpoints, 'partition');
    await fleet.startStaged(3, (i) => (i === 1 ? [`http://127.0.0.1:${relay.port}`] : fleet.endpoints));
  }, 180_000);
  afterAll(async () => {
    await fleet?.cleanup();
    await relay?.close();
  }, 120_000);

  /** h2's status as etcd has it. */
  const h2 = () => fleet.status(1);
  const h2Key = () => keys.hostDesired(fleet.project, 'h2', 'web');

  /**
   * One rollout v1 → v2 (one host a batch: h1, h2, h3) with `policy`; h2 is cut off once it is
   * updating. Returns what the test measured.
   */
  async function partitionMidRollout(policy: 'fail' | 'skip') {
    const load = startLoad({ url: fleet.url(1), connections: 2, rate: 50 });
    await waitFor(() => load.snapshot().ok > 10, { what: 'load to flow to h2' });
    const containers = fleet.containerWatch();
    const logsBefore = fleet.agents[1].logs.length;

    const id = await fleet.deploy('v2', ['--batch', '1', '--min-ready', '2', '--on-host-lost', policy]);
    await waitFor(async () => (await fleet.state())?.hosts.find((h) => h.id === 'h2')?.result === 'updating', { timeoutMs: 90_000, intervalMs: 50, what: 'h2 to be updating' });
    expect(await fleet.coordinator()).toBe('h1');
    const cutAt = Date.now();
    relay.cut('blackhole');

    // The coordinator acts on h2's registration expiring, well before the progress deadline.
    const judged = await waitFor(
      async () => {
        const text = await fleet.etcd.get(keys.rolloutHistory(fleet.project, 'web', id)).string();
        const hosts = text ? (JSON.parse(text).state.hosts as Array<{ id: string; result: string; error?: string }>) : (await fleet.state())?.hosts;
        const h = hosts?.find((x) => x.id === 'h2');
        return h && (h.result === 'failed' || h.result === 'skipped') ? h : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 50, what: `h2 to be ${policy === 'fail' ? 'failed' : 'skipped'} for its lost registration\n${fleet.agents[0].tail(10)}` },
    );
    const detectMs = Date.now() - cutAt;
    const entry = await fleet.history(id);
    expect(fleet.agents[1].running).toBe(true);
    const duringCut = load.snapshot();

    const healedAt = Date.now();
    relay.heal();
    // h2 registers again and runs what etcd says: the rollout's host key (fail), or the fleet's v2 (skip: the key is gone).
    const wantKey = policy === 'fail' ? h2Key() : keys.fleetDesired(fleet.project, 'web');
    await waitFor(
      async () => {
        if (!(await fleet.registered(1))) return false;
        const s = await h2();
        return s?.phase === 'running' && s.version === 'v2' && s.containers.length === 1 && s.observed?.key === wantKey;
      },
      { timeoutMs: 120_000, intervalMs: 50, what: `h2 to register again and converge\n${fleet.agents[1].tail(20)}` },
    );
    const recoveryMs = Date.now() - healedAt;
    const report = await load.stop();
    const seen = await containers.stop();
    const totals = loadTotals([report]);
    const v2OnH2 = seen.get('h2')?.get('v2')?.size ?? 0;
    // What made h2 start containers (a second v2 failed this once in CI, cause not seen): its own words.
    const h2Starts = fleet.agents[1].logs.slice(logsBefore).filter((l) => /container-started|replacing|unhealthy|failed|teardown-started|converged/.test(l));
    if (v2OnH2 !== 1) console.log(`h2 made ${v2OnH2} v2 containers (${[...(seen.get('h2')?.get('v2') ?? [])].map((c) => c.slice(0, 12)).join(', ')}); cut at +0, healed at +${healedAt - cutAt} ms; h2's log:\n${h2Starts.join('\n')}`);
    // A container its health checks failed is replaced, partition or not (said in the log): not the partition's doing.
    const healthReplaced = h2Starts.filter((l) => l.includes('container unhealthy: replacing it')).length;
    return { id, entry, judged, detectMs, recoveryMs, totals, duringCut, v2OnH2, healthReplaced };
  }

  it('--on-host-lost fail: the rollout fails naming h2 within about the lease TTL; h2 serves throughout, and converges when healed', async () => {
    const r = await partitionMidRollout('fail');
    console.log(`partition (fail): ${JSON.stringify({ detectMs: r.detectMs, recoveryMs: r.recoveryMs, sent: r.totals.sent, failed: r.totals.failed, v2OnH2: r.v2OnH2, healthReplaced: r.healthReplaced, message: r.entry.state.message })}`);
    recordFault({
      fault: 'host partitioned from etcd mid-rollout (--on-host-lost fail)',
      injected: "TCP relay between h2's gantryd and etcd blackholed while h2 updated in its batch; healed after the rollout ended",
      sent: r.totals.sent,
      failed: r.totals.failed,
      recoveryMs: r.recoveryMs,
      replaced: Math.max(0, r.v2OnH2 - 1),
      note: `rollout failed naming h2 ${r.detectMs} ms after the cut (lease TTL 3 s); recovery = heal to h2 registered again and running its host key's v2; load on h2's frontend`,
    });

    expect(r.entry.state.state).toBe('failed');
    expect(r.judged).toMatchObject({ result: 'failed', error: 'host h2 lost its registration (lease expired) while updating to v2' });
    expect(r.entry.state.message).toBe('failed: host h2 lost its registration (lease expired) while updating to v2');
    expect(r.entry.state.hosts.map((h) => [h.id, h.result])).toEqual([['h1', 'done'], ['h2', 'failed'], ['h3', 'pending']]);
    expect(r.detectMs).toBeLessThanOrEqual(LEASE_TTL_MS + 4_000);
    expect({ failed: r.totals.failed, samples: r.totals.samples }).toEqual({ failed: 0, samples: [] });
    expect(r.duringCut.ok).toBeGreaterThan(0);
    expect(r.v2OnH2 - r.healthReplaced).toBe(1);
    // h3 was never moved; h1 and h2 keep the rollout's pins.
    expect(await fleet.hostKey(2)).toBeNull();
    expect(componentStatusSchema.parse((await fleet.status(2))!).version).toBe('v1');

    // Back to v1 everywhere for the next case: the operator removes the pins.
    for (const i of [0, 1]) await fleet.etcd.delete().key(keys.hostDesired(fleet.project, fleet.agents[i].spec.hostId, 'web'));
    await fleet.converged('v1');
  }, 300_000);

  it('--on-host-lost skip: h2 is skipped within about the lease TTL, the others finish; h2 serves throughout, and converges to the fleet version when healed', async () => {
    const r = await partitionMidRollout('skip');
    console.log(`partition (skip): ${JSON.stringify({ detectMs: r.detectMs, recoveryMs: r.recoveryMs, sent: r.totals.sent, failed: r.totals.failed, v2OnH2: r.v2OnH2, healthReplaced: r.healthReplaced, message: r.entry.state.message })}`);
    recordFault({
      fault: 'host partitioned from etcd mid-rollout (--on-host-lost skip)',
      injected: "TCP relay between h2's gantryd and etcd blackholed while h2 updated in its batch; healed after the rollout ended",
      sent: r.totals.sent,
      failed: r.totals.failed,
      recoveryMs: r.recoveryMs,
      replaced: Math.max(0, r.v2OnH2 - 1),
      note: `h2 skipped ${r.detectMs} ms after the cut (lease TTL 3 s), h3 then updated, rollout succeeded; recovery = heal to h2 registered again and running the fleet's v2; load on h2's frontend`,
    });

    expect(r.entry.state.state).toBe('succeeded');
    expect(r.judged).toMatchObject({ result: 'skipped', error: 'host h2 lost its registration (lease expired) while updating to v2' });
    expect(r.entry.state.hosts.map((h) => [h.id, h.result])).toEqual([['h1', 'done'], ['h2', 'skipped'], ['h3', 'done']]);
    expect(r.entry.state.message).toBe('2 host(s) on v2; skipped host h2 lost its registration (lease expired) while updating to v2');
    expect(r.detectMs).toBeLessThanOrEqual(LEASE_TTL_MS + 4_000);
    expect({ failed: r.totals.failed, samples: r.totals.samples }).toEqual({ failed: 0, samples: [] });
    expect(r.duringCut.ok).toBeGreaterThan(0);
    expect(r.v2OnH2 - r.healthReplaced).toBe(1);
    await fleet.converged('v2');
    // The CLI shows the skipped host.
    const history = runGantry(['rollout', 'history', fleet.project, 'web', '--etcd', fleet.endpoints.join(',')]);
    expect(history.stdout).toContain('3 (2 done, 1 skipped)');
  }, 300_000);
});
