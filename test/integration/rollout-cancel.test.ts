/**
 * The rollout rules with real gantryd processes (three hosts on 127.0.1.N, one shared dockerd, one
 * HAProxy each) under load: a request deleted by hand cancels the rollout, timestamps written
 * elsewhere (the CLI's clock) decide nothing, `gantry rollout abort` reports what the coordinator
 * did, and a gone host's status keys are removed after --gone-host-retention. The same rules against
 * an injected clock: rollout-rules.test.ts.
 */
import { rolloutHistoryEntrySchema, rolloutRequestSchema, rolloutStateSchema, type RolloutControl, type RolloutHistoryEntry, type RolloutState } from '@gantry/spec';
import { ensureDemoImages, loadTotals, serviceEnv, startLoad, waitFor, type LoadRun } from '@gantry/testkit';
import { AgentProcess } from '../support/agent-process';
import { demoConfig } from '../support/demo-config';
import { Fleet, FLEET_PORT, keys } from '../support/fleet';
import { freeHostAddresses } from '../support/local-host';
import { runGantry } from '../support/cli';

const HOSTS = 3;
const RETENTION_S = 4;
const MINUTES_10 = 600_000;

class RulesFleet extends Fleet {
  /** Like Fleet.start, with gantryd flags of this test. */
  async startWith(count: number, extraArgs: string[]): Promise<void> {
    await this.etcd.put(keys.config(this.project)).value(JSON.stringify(demoConfig(FLEET_PORT, { readyTimeout: 4_000, drainTimeout: 5_000 })));
    const addresses = await freeHostAddresses(count, FLEET_PORT);
    this.agents = addresses.map((bindAddress, i) => new AgentProcess({ hostId: `h${i + 1}`, project: this.project, bindAddress, stateDir: this.stateDir, etcd: this.endpoints, extraArgs }).start());
  }

  async rollout(id: string, toVersion: string, policy: Record<string, unknown>, createdAt = new Date()): Promise<void> {
    const request = rolloutRequestSchema.parse({ id, component: 'web', toVersion, policy, createdBy: 'test', createdAt: createdAt.toISOString() });
    await this.etcd.put(keys.rolloutRequest(this.project, 'web')).value(JSON.stringify(request));
  }

  async state(): Promise<RolloutState | undefined> {
    const text = await this.etcd.get(keys.rolloutState(this.project, 'web')).string();
    return text === null ? undefined : rolloutStateSchema.parse(JSON.parse(text));
  }

  async stateWhere(ok: (s: RolloutState) => boolean, what: string, timeoutMs = 90_000): Promise<RolloutState> {
    return waitFor(async () => {
      const s = await this.state();
      return s && ok(s) ? s : undefined;
    }, { timeoutMs, intervalMs: 50, what: `${what}\n${this.agents.map((a) => a.tail(6)).join('\n')}` });
  }

  async history(id: string, timeoutMs = 90_000): Promise<RolloutHistoryEntry> {
    const text = await waitFor(async () => (await this.etcd.get(keys.rolloutHistory(this.project, 'web', id)).string()) ?? undefined, { timeoutMs, intervalMs: 50, what: `rollout ${id} in history` });
    return rolloutHistoryEntrySchema.parse(JSON.parse(text));
  }

  gantry(...args: string[]) {
    return runGantry([...args, '--etcd', this.endpoints.join(',')], 60_000);
  }
}

const loadOn = (fleet: Fleet) => fleet.agents.map((_, i) => startLoad({ url: fleet.url(i), connections: 2, rate: 40 }));
async function stopLoad(loads: LoadRun[]) {
  return loadTotals(await Promise.all(loads.map((l) => l.stop())));
}

beforeAll(() => ensureDemoImages(), 600_000);

describe('rollout rules with real agents', () => {
  let fleet: RulesFleet;
  beforeAll(async () => {
    fleet = new RulesFleet(serviceEnv().etcdEndpoints, 'rules');
    await fleet.startWith(HOSTS, ['--gone-host-retention', `${RETENTION_S}s`]);
    await fleet.setFleetVersion('v1');
    await fleet.converged('v1');
    await waitFor(() => fleet.coordinator(), { what: 'a coordinator' });
  }, 180_000);
  afterAll(() => fleet?.cleanup(), 120_000);

  it('a rollout whose request is deleted by hand is cancelled: its pins go, the hosts return to the fleet version, no request lost', async () => {
    const loads = loadOn(fleet);
    await waitFor(() => loads.every((l) => l.snapshot().ok > 10), { what: 'load to flow' });
    await fleet.rollout('r-cancel', 'v2', { canary: 1 });
    const paused = await fleet.stateWhere((s) => s.state === 'paused', 'the canary pause');
    expect(paused.hosts.map((h) => h.result)).toEqual(['done', 'pending', 'pending']);
    await fleet.converged('v2', 30_000, [0]);

    const deletedAt = Date.now();
    await fleet.etcd.delete().key(keys.rolloutRequest(fleet.project, 'web'));
    const entry = await fleet.history('r-cancel', 30_000);
    const cleanupMs = Date.now() - deletedAt;
    await fleet.converged('v1');
    const backMs = Date.now() - deletedAt;
    const totals = await stopLoad(loads);
    console.log(`cancel: ${JSON.stringify({ cleanupMs, backOnFleetVersionMs: backMs, sent: totals.sent, failed: totals.failed })}`);

    expect(entry.request).toMatchObject({ id: 'r-cancel', createdBy: 'test' });
    expect(entry.state).toMatchObject({ state: 'cancelled', message: expect.stringContaining("(h1): those hosts follow the fleet's version v1 again") });
    expect(await fleet.etcd.get(keys.rolloutState(fleet.project, 'web')).string()).toBeNull();
    expect(await fleet.etcd.get(keys.rolloutControl(fleet.project, 'web')).string()).toBeNull();
    for (let i = 0; i < HOSTS; i++) expect(await fleet.hostKey(i)).toBeNull();
    expect({ failed: totals.failed, samples: totals.samples }).toEqual({ failed: 0, samples: [] });
    expect(totals.sent).toBeGreaterThan(100);
    const history = fleet.gantry('rollout', 'history', fleet.project, 'web', '--json');
    expect(JSON.parse(history.stdout.trim().split('\n').pop()!).rollouts[0]).toMatchObject({ id: 'r-cancel', outcome: 'cancelled' });
  }, 300_000);

  it("timestamps from another clock decide nothing: createdAt 10 minutes ahead, a resume stamped 10 minutes back; min-ready waits its real time", async () => {
    await fleet.rollout('r-skew', 'v2', { canary: 1, minReadySeconds: 3 }, new Date(Date.now() + MINUTES_10));
    // When the test first sees h1 serve v2 for this rollout, and when the coordinator counts it done.
    const readySeen = await waitFor(async () => {
      const s = await fleet.status(0);
      return s?.phase === 'running' && s.version === 'v2' && s.observed?.rollout === 'r-skew' ? Date.now() : undefined;
    }, { timeoutMs: 60_000, intervalMs: 50, what: 'h1 on v2 for r-skew' });
    const paused = await fleet.stateWhere((s) => s.state === 'paused', 'the canary pause');
    const doneSeen = Date.now();
    const minReadyMs = doneSeen - readySeen;
    expect(paused).toMatchObject({ pausedBy: 'canary', hosts: [{ id: 'h1', result: 'done' }, { result: 'pending' }, { result: 'pending' }] });

    // The operator's laptop is 10 minutes behind: its resume is stamped before the canary finished.
    const resume: RolloutControl = { rollout: 'r-skew', action: 'resume', by: 'laptop', at: new Date(Date.now() - MINUTES_10).toISOString() };
    await fleet.etcd.put(keys.rolloutControl(fleet.project, 'web')).value(JSON.stringify(resume));
    const entry = await fleet.history('r-skew');
    console.log(`skew: ${JSON.stringify({ minReadyMs, minReadySeconds: 3 })}`);
    expect(entry.state.state).toBe('succeeded');
    // Its real duration (the test's view of "ready" lags the coordinator's by at most a poll).
    expect(minReadyMs).toBeGreaterThanOrEqual(3_000 - 200);
    expect(minReadyMs).toBeLessThan(15_000);
    await fleet.converged('v2');
  }, 300_000);

  it('`gantry rollout abort` waits for the coordinator and says who aborted it and where each host is', async () => {
    await fleet.rollout('r-abort', 'v1', { minReadySeconds: 2 });
    await fleet.stateWhere((s) => s.hosts[0]?.result === 'done', 'h1 done');
    const res = fleet.gantry('rollout', 'abort', fleet.project, 'web');
    expect({ status: res.status, stderr: res.stderr }).toEqual({ status: 0, stderr: '' });
    expect(res.stdout.trim()).toMatch(/^rollout r-abort aborted by \S+: host h1 on v1; (host h2 (updating to v1|on v1 \(not yet through min-ready\)); )?hosts? (h2, )?h3 untouched$/);
    const entry = await fleet.history('r-abort');
    expect(entry.state).toMatchObject({ state: 'aborted', hosts: [{ result: 'done' }, {}, { result: 'pending' }] });
    // Hosts stay where they were left: h1's pin says v1, h3 has none.
    expect(JSON.parse((await fleet.hostKey(0))!)).toMatchObject({ version: 'v1', rollout: 'r-abort' });
    expect(await fleet.hostKey(2)).toBeNull();
    for (let i = 0; i < HOSTS; i++) await fleet.etcd.delete().key(keys.hostDesired(fleet.project, fleet.agents[i].spec.hostId, 'web'));
    await fleet.converged('v2');
  }, 300_000);

  it(`a gone host shows in gantry hosts; its status keys are removed ${RETENTION_S} s after its registration went, its pin stays`, async () => {
    const leader = (await fleet.coordinator())!;
    const i = fleet.agents.findIndex((a) => a.spec.hostId !== leader);
    const host = fleet.agents[i].spec.hostId;
    const pin = keys.hostDesired(fleet.project, host, 'web');
    await fleet.etcd.put(pin).value(JSON.stringify({ version: 'v2', setBy: 'ann' }));
    await waitFor(async () => (await fleet.status(i))?.observed?.key === pin, { what: `${host} observing its pin` });
    await fleet.agents[i].kill('SIGKILL');
    const registration = keys.registration(fleet.project, host);
    await waitFor(async () => (await fleet.etcd.get(registration).string()) === null, { timeoutMs: 15_000, intervalMs: 50, what: `${host}'s registration to expire` });
    const goneAt = Date.now();
    const hosts = fleet.gantry('hosts', '--project', fleet.project, '--json');
    expect(hosts.status).toBe(0);
    const listed = JSON.parse(hosts.stdout.trim().split('\n').pop()!);
    expect(listed.gone).toEqual([{ host, lastStatusAt: expect.any(String), statuses: ['web'], agent: true, pins: ['web'] }]);
    const table = fleet.gantry('hosts', '--project', fleet.project);
    expect(table.stdout).toMatch(new RegExp(`gone \\(keys left, no registration[^\\n]*\\n\\s*HOST\\s+LAST STATUS\\s+KEYS LEFT\\s*\\n\\s*${host}\\s+\\d+s ago\\s+status: web; agent; pins: web`));

    await waitFor(async () => (await fleet.etcd.getAll().prefix(keys.host(fleet.project, host)).keys()).join(',') === pin, { timeoutMs: 30_000, intervalMs: 50, what: `only ${host}'s pin left` });
    const removedMs = Date.now() - goneAt;
    console.log(`gone host: status keys removed ${removedMs} ms after its registration expired (retention ${RETENTION_S} s)`);
    expect(removedMs).toBeGreaterThanOrEqual(RETENTION_S * 1000 - 500);
    expect(removedMs).toBeLessThan(RETENTION_S * 1000 + 5_000);
    const after = JSON.parse(fleet.gantry('hosts', '--project', fleet.project, '--json').stdout.trim().split('\n').pop()!);
    expect(after.gone).toEqual([]);
  }, 300_000);
});
