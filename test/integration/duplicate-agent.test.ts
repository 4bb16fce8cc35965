/**
 * One gantryd per host id, with real gantryd processes: a second one for a host id that runs —
 * on the same machine (same state dir: the lock) or on another (another state dir: the
 * registration in etcd) — is refused with exit code 4, naming the first, while the first keeps
 * serving untouched; once the first is dead and its lease has expired, a new one starts and
 * converges the host. And a status value that would be too big for etcd is cut so that it is
 * still written.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHostEngine } from '@gantry/agent';
import { PrefixWatcher, type PrefixChange } from '@gantry/etcd';
import { agentStatusSchema, componentStatusSchema, type HostRegistration } from '@gantry/spec';
import { ensureDemoImages, httpGet, serviceEnv, startLoad, waitFor, type LoadRun } from '@gantry/testkit';
import { AgentProcess } from '../support/agent-process';
import { demoConfig } from '../support/demo-config';
import { Fleet, FLEET_PORT, keys } from '../support/fleet';

const EXIT_HOST_ALREADY_RUNNING = 4;
const failures = (report: Awaited<ReturnType<LoadRun['stop']>>) => ({ errors: report.errors, non2xx: report.non2xx, samples: report.samples });
const noFailures = { errors: 0, non2xx: 0, samples: [] };

beforeAll(() => ensureDemoImages(), 600_000);

describe('a second gantryd for a host id that already runs', () => {
  let fleet: Fleet;
  let otherStateDir: string;
  /** Every gantryd this file starts besides the fleet's own, killed in afterAll whatever happened. */
  const extra: AgentProcess[] = [];
  let load: LoadRun | undefined;
  const spawnAgent = (overrides: Partial<AgentProcess['spec']> = {}) => {
    const agent = new AgentProcess({ ...fleet.agents[0].spec, ...overrides }).start();
    extra.push(agent);
    return agent;
  };
  const registrationKey = () => keys.registration(fleet.project, 'h1');
  const registration = async () => {
    const kv = (await fleet.etcd.get(registrationKey()).exec()).kvs[0];
    return kv && { value: kv.value.toString(), lease: kv.lease, modRevision: kv.mod_revision, parsed: JSON.parse(kv.value.toString()) as HostRegistration };
  };

  beforeAll(async () => {
    fleet = new Fleet(serviceEnv().etcdEndpoints, 'dup');
    otherStateDir = mkdtempSync(join(tmpdir(), 'gantry-dup-other-'));
    await fleet.start(1, { drainTimeout: 5_000 });
    await fleet.setFleetVersion('v1');
    await fleet.converged('v1');
    load = startLoad({ url: fleet.url(0), connections: 2, rate: 100 });
    await waitFor(() => load!.snapshot().ok > 20, { what: 'load to flow' });
  });
  afterAll(async () => {
    await load?.stop();
    await Promise.all(extra.map((a) => a.kill('SIGKILL')));
    await fleet.cleanup();
    // Had a refused agent started anything in its own state dir, it would be stopped here.
    await createHostEngine({ stateDir: otherStateDir, hostId: 'h1', dockerHost: serviceEnv().dockerHost }).proxy.stop();
    rmSync(otherStateDir, { recursive: true, force: true });
  });

  it('is refused (exit 4) naming the first — same state dir or another machine’s — and the first serves on untouched', async () => {
    const first = fleet.agents[0];
    const before = (await registration())!;
    expect(before.parsed).toMatchObject({ hostId: 'h1', pid: first.pid, address: first.spec.bindAddress });
    const containersBefore = (await fleet.containers(0)).map((c) => c.id);

    // Every write under the project while the second ones try: there must be none.
    const writes: PrefixChange[] = [];
    const watcher = new PrefixWatcher({ client: fleet.etcd, prefix: keys.project(fleet.project), onSnapshot: () => undefined, onChange: (c) => void writes.push(c) });
    await watcher.start();
    try {
      // (a) The same machine, the same state dir: the lock on <stateDir>/h1/ refuses it.
      const sameDir = spawnAgent();
      expect(await sameDir.exited()).toBe(EXIT_HOST_ALREADY_RUNNING);
      const sameDirLine = sameDir.logs.find((l) => l.startsWith('gantryd: '));
      console.info(`same state dir: ${sameDirLine}`);
      expect(sameDirLine).toContain('host h1 is already run by another gantryd on this machine');
      expect(sameDirLine).toContain(`pid ${first.pid}`);
      expect(sameDirLine).toContain(join(fleet.stateDir, 'h1', 'gantryd.lock'));
      const sameDirLog = sameDir.logs.map((l) => (l.startsWith('{') ? JSON.parse(l) : undefined)).find((l) => l?.level === 'error');
      expect(sameDirLog).toMatchObject({ message: 'refusing to start: this host id already runs', hostId: 'h1', holder: { pid: first.pid } });

      // (b) Another machine (its own state dir): etcd's registration, created only if absent, refuses it.
      const elsewhere = spawnAgent({ stateDir: otherStateDir });
      expect(await elsewhere.exited()).toBe(EXIT_HOST_ALREADY_RUNNING);
      const elsewhereLine = elsewhere.logs.find((l) => l.startsWith('gantryd: '));
      console.info(`another state dir: ${elsewhereLine}`);
      expect(elsewhereLine).toContain(`host h1 is already running: another gantryd holds its registration ${registrationKey()}`);
      expect(elsewhereLine).toContain(`address ${first.spec.bindAddress}, pid ${first.pid}`);
      expect(elsewhereLine).toContain(`started at ${before.parsed.startedAt}`);
      // It started nothing: no HAProxy state, and it let go of its own lock.
      expect(existsSync(join(otherStateDir, 'h1', 'haproxy'))).toBe(false);
      expect(existsSync(join(otherStateDir, 'h1', 'gantryd.lock'))).toBe(false);
    } finally {
      await watcher.stop();
    }

    // (c) The first never noticed: same registration, same containers, nothing written, no request lost.
    expect(writes.map((w) => `${w.type} ${w.key}`)).toEqual([]);
    expect(await registration()).toEqual(before);
    expect((await fleet.containers(0)).map((c) => c.id)).toEqual(containersBefore);
    expect(first.running).toBe(true);
    expect((await httpGet(fleet.url(0))).version).toBe('v1');
    const sofar = load!.snapshot();
    console.info(`load while refused: ${JSON.stringify({ sent: sofar.sent, ok: sofar.ok, failed: sofar.errors + sofar.non2xx })}`);
    expect(failures(sofar)).toEqual(noFailures);
  });

  it('after the first is SIGKILLed: refused while its lease lives, then starts once it has expired and converges the host', async () => {
    const dead = fleet.agents[0];
    const deadPid = dead.pid;
    await dead.kill('SIGKILL');
    const killedAt = Date.now();
    // While no agent runs, the host is told to move: the next agent must do it.
    await fleet.setFleetVersion('v2');

    // Right away: its lock is stale (taken over), but its registration still lives in etcd.
    const early = spawnAgent();
    expect(await early.exited()).toBe(EXIT_HOST_ALREADY_RUNNING);
    const earlyLine = early.logs.find((l) => l.startsWith('gantryd: '));
    expect(earlyLine).toContain(`host h1 is already running: another gantryd holds its registration ${registrationKey()}`);
    expect(earlyLine).toContain(`pid ${deadPid}`);
    expect(early.logs.some((l) => l.includes('took over a stale lock') && l.includes(`pid ${deadPid} is not running`))).toBe(true);
    const refusedAfter = Date.now() - killedAt;
    // The refused one was quick, and the dead agent's registration is still there.
    expect((await registration())?.parsed.pid).toBe(deadPid);

    // Poll until etcd expires the lease (TTL 3 s): no fixed sleep.
    await waitFor(async () => (await registration()) === undefined, { timeoutMs: 30_000, intervalMs: 50, what: 'the dead agent’s registration to expire' });
    const leaseGoneAfter = Date.now() - killedAt;
    console.info(`lease of the SIGKILLed agent gone ${leaseGoneAfter} ms after the kill (--lease-ttl 3; the early second agent was refused ${refusedAfter} ms after it)`);

    const next = spawnAgent();
    fleet.agents[0] = next; // the fleet's cleanup kills it too
    await waitFor(async () => (await registration())?.parsed.pid === next.pid, { timeoutMs: 20_000, what: `the new agent to register\n${next.tail()}` });
    await fleet.converged('v2');
    expect(next.running).toBe(true);
    expect((await fleet.containers(0)).map((c) => [c.version, c.state])).toEqual([['v2', 'running']]);
    const report = await load!.stop();
    load = undefined;
    console.info(`load over the whole file: ${JSON.stringify({ sent: report.sent, ok: report.ok, failed: report.errors + report.non2xx, byVersion: report.byVersion })}`);
    expect(failures(report)).toEqual(noFailures);
  });

  it('a status that would exceed etcd’s request limit is cut and still written; the agent stays alive and serves on', async () => {
    const agent = fleet.agents[0];
    const configKey = keys.config(fleet.project);
    const goodConfig = demoConfig(FLEET_PORT, { drainTimeout: 5_000 });
    const load2 = startLoad({ url: fleet.url(0), connections: 2, rate: 100 });
    try {
      // A second component with a failing health check named by 560 kB and requesting a 500 kB path:
      // its status names the check twice (failing[], lastResults[].check) and the URL once, ~1.6 MB,
      // past etcd's 1.5 MiB request limit — from a config of ~1 MB, which etcd takes.
      const id = `check-${'i'.repeat(560_000)}`;
      const path = `/${'p'.repeat(500_000)}`;
      expect(2 * id.length + path.length).toBeGreaterThan(1.5 * 1024 * 1024);
      const noisy = {
        name: 'noisy',
        repo: goodConfig.components[0].repo,
        ports: [{ external: FLEET_PORT + 1, container: 8080, kind: 'http' }],
        healthChecks: [{ kind: 'http', id, port: 8080, path, interval: 1, retries: 1, timeout: 2 }],
        healthFailureThreshold: 1_000_000, // never replaced: only reported
      };
      const config = JSON.stringify({ components: [...goodConfig.components, noisy] });
      expect(config.length).toBeLessThan(1.5 * 1024 * 1024);
      await fleet.etcd.put(configKey).value(config);
      await fleet.etcd.put(keys.fleetDesired(fleet.project, 'noisy')).value(JSON.stringify({ version: 'v1', setBy: 'test' }));
      const statusKey = keys.status(fleet.project, 'h1', 'noisy');
      let seen: string | null = null;
      const noisyStatus = await waitFor(
        async () => {
          const text = (seen = await fleet.etcd.get(statusKey).string());
          const status = text === null ? undefined : componentStatusSchema.parse(JSON.parse(text));
          return status?.health?.failing.length ? { status, bytes: Buffer.byteLength(text!) } : undefined;
        },
        { timeoutMs: 60_000, what: 'noisy to report its failing health check' },
      ).catch((err: Error) => {
        throw new Error(`${err.message}\nnoisy status: ${seen?.slice(0, 500)}\n${agent.tail()}`);
      });
      const health = noisyStatus.status.health!;
      const result = health.lastResults[0];
      console.info(`noisy status: ${noisyStatus.bytes} bytes (uncut it would be over ${2 * id.length + path.length}); check ${result.check.length} chars, detail ${result.detail.length} chars`);
      expect(noisyStatus.bytes).toBeLessThanOrEqual(64 * 1024);
      expect(health.failing).toHaveLength(1);
      expect(health.failing[0]).toMatch(/^check-i+ … \(truncated, 560006 bytes\) … i+$/);
      expect(result).toMatchObject({ ok: false, check: health.failing[0] });
      expect(result.detail).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/p+ … \(truncated, \d+ bytes\) … p+ → \S/);
      expect(agent.running).toBe(true);

      // A megabyte of invalid config: the agent record still names the key, and fits.
      const item = '"not-a-port-mapping"';
      const huge = `{"components":[{"name":"web","repo":"r","ports":[${Array(Math.floor((1024 * 1024 - 200) / (item.length + 1))).fill(item).join(',')}]}]}`;
      await fleet.etcd.put(configKey).value(huge);
      const agentRecord = await waitFor(
        async () => {
          const text = await fleet.etcd.get(keys.agent(fleet.project, 'h1')).string();
          const record = text === null ? undefined : agentStatusSchema.parse(JSON.parse(text));
          return record?.problems.some((p) => p.key === configKey) ? { record, bytes: Buffer.byteLength(text!) } : undefined;
        },
        { timeoutMs: 30_000, what: `h1's agent record to name the invalid config\n${agent.tail()}` },
      );
      console.info(`agent record with a ${huge.length}-byte invalid config: ${agentRecord.bytes} bytes`);
      expect(agentRecord.bytes).toBeLessThanOrEqual(64 * 1024);
      await waitFor(async () => (await fleet.status(0))?.lastError?.key === configKey, { timeoutMs: 30_000, what: 'web status to name the invalid config' });
      expect(agent.running).toBe(true);
      expect((await httpGet(fleet.url(0))).version).toBe('v2');
    } finally {
      await fleet.etcd.put(configKey).value(JSON.stringify(goodConfig));
    }
    await waitFor(async () => (await fleet.status(0))?.lastError === undefined, { timeoutMs: 30_000, what: 'the error to clear' });
    expect(agent.running).toBe(true);
    const report = await load2.stop();
    console.info(`load during the oversized statuses: ${JSON.stringify({ sent: report.sent, ok: report.ok, failed: report.errors + report.non2xx })}`);
    expect(failures(report)).toEqual(noFailures);
  });

  it('an agent whose lease was lost while another gantryd registered the host does not overwrite it: it stops (exit 4), leaving HAProxy serving', async () => {
    const agent = fleet.agents[0];
    const ours = (await registration())!;
    expect(ours.parsed.pid).toBe(agent.pid);
    const load3 = startLoad({ url: fleet.url(0), connections: 2, rate: 100 });
    // Another gantryd registers h1 under its lease; then the first one's lease goes (as after an outage).
    const intruderLease = await fleet.etcd.leaseClient.leaseGrant({ TTL: 60, ID: 0 });
    try {
      const intruder = JSON.stringify({ ...ours.parsed, pid: 999_999, hostname: 'another-machine', startedAt: new Date().toISOString() });
      await fleet.etcd.put(registrationKey()).value(intruder).lease(intruderLease.ID);
      await fleet.etcd.leaseClient.leaseRevoke({ ID: ours.lease });
      expect(await agent.exited()).toBe(EXIT_HOST_ALREADY_RUNNING);
      expect(agent.logs.some((l) => l.includes('registration taken by another gantryd while our lease was gone: this agent stops'))).toBe(true);
      expect(agent.logs.find((l) => l.startsWith('gantryd: '))).toContain('pid 999999, hostname another-machine');
      expect((await registration())?.value).toBe(intruder);
      expect((await httpGet(fleet.url(0))).version).toBe('v2'); // HAProxy and the container serve on
      expect(failures(await load3.stop())).toEqual(noFailures);
    } finally {
      await load3.stop();
      await fleet.etcd.leaseClient.leaseRevoke({ ID: intruderLease.ID });
    }
  });
});
