/**
 * Drained is done, on the real parts (dockerd, HAProxy, etcd, gantryd). The app is the demo app's
 * SIGTERM-deaf flavor (APP_FLAVOR=deaf: its PID 1 ignores SIGTERM, so Docker's stop takes the whole
 * stop timeout): an update reports success once the old container is drained and out of the proxy,
 * its stop and removal go on in the background (shown in the status), a SIGKILLed agent's teardown
 * is finished by the restarted agent, exactly one container is left, and a rollout's wall time does
 * not contain the stop timeouts.
 */
import { ContainerTeardowns, updateComponent, type EngineEvent } from '@gantry/agent';
import { rolloutHistoryEntrySchema, rolloutRequestSchema, type ComponentStatus, type RolloutHistoryEntry } from '@gantry/spec';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { ensureDemoImages, loadTotals, serviceEnv, startLoad, waitFor } from '@gantry/testkit';
import { cliEnv, gantryBin, runGantryAsync } from '../support/cli';
import { demoConfig } from '../support/demo-config';
import { Fleet, keys } from '../support/fleet';
import { localHost, type LocalHost } from '../support/local-host';

const PORT = 80;
const STOP_TIMEOUT_MS = 5_000;
const deaf = { stopTimeout: STOP_TIMEOUT_MS, drainTimeout: 5_000, readyTimeout: 20_000, environmentVariables: [{ name: 'APP_FLAVOR', value: 'deaf' }] };

beforeAll(() => ensureDemoImages(), 600_000);

describe('engine: an update is done once the old container is drained', () => {
  let host: LocalHost;
  beforeAll(async () => {
    host = await localHost();
  });
  afterAll(() => host?.cleanup(), 60_000);

  it('returns before the deaf old container is stopped; the next update waits for no teardown and starts none twice; one container is left', async () => {
    const teardown = new ContainerTeardowns(host.deps.runtime);
    const deps = { ...host.deps, teardown };
    const config = demoConfig(PORT, deaf);
    await updateComponent(deps, host.ctx, { config, component: 'web', tag: 'v1' });
    await teardown.settled();
    const load = startLoad({ url: host.url(PORT, '/'), connections: 4, rate: 100 });
    await waitFor(() => load.snapshot().ok > 10, { what: 'load to flow' });

    const events: Array<{ at: number; event: EngineEvent }> = [];
    const onEvent = (event: EngineEvent) => events.push({ at: performance.now(), event });
    const toV2 = await updateComponent(deps, host.ctx, { config, component: 'web', tag: 'v2', onEvent });
    const returnedAt = performance.now();
    const drainedAt = events.find((e) => e.event.type === 'drained')!.at;
    const firstOld = toV2.retired[0].container;
    expect(toV2.teardown).toEqual([{ container: firstOld, stopTimeoutMs: STOP_TIMEOUT_MS }]);
    // Still there: the deaf app is being stopped, off the update's path.
    expect((await host.containers()).map((c) => c.id)).toContain(firstOld);

    // Back to v1 at once: its observation sees the first teardown and leaves it alone.
    const backStarted = performance.now();
    const toV1 = await updateComponent(deps, host.ctx, { config, component: 'web', tag: 'v1', onEvent });
    const backMs = performance.now() - backStarted;
    const observed = events.filter((e) => e.event.type === 'observed').map((e) => e.event as Extract<EngineEvent, { type: 'observed' }>);
    expect(observed[1].tearingDown).toEqual([firstOld]);
    expect(teardown.list('web').map((t) => t.container).sort()).toEqual([firstOld, toV2.container].sort());

    const ended = await teardown.settled();
    const report = await load.stop();
    const started = events.filter((e) => e.event.type === 'teardown-started').map((e) => (e.event as { container: string }).container);
    const done = events.filter((e) => e.event.type === 'teardown-done').map((e) => e.event as Extract<EngineEvent, { type: 'teardown-done' }>);
    const figures = {
      drainedToReturnedMs: Math.round(returnedAt - drainedAt),
      updateTotalMs: toV2.timings.total,
      secondUpdateMs: Math.round(backMs),
      teardownMs: done.map((d) => d.elapsedMs),
      sent: report.sent,
      failed: report.errors + report.non2xx,
    };
    console.log(`deaf app, stop timeout ${STOP_TIMEOUT_MS} ms: ${JSON.stringify(figures)}`);

    expect(figures.drainedToReturnedMs).toBeLessThan(1_000);
    expect(backMs).toBeLessThan(STOP_TIMEOUT_MS);
    expect(started.sort()).toEqual([firstOld, toV2.container].sort());
    expect(ended.every((t) => t.error === undefined)).toBe(true);
    // Deaf: each stop took the whole stop timeout (Docker rounds it to seconds), in the background.
    for (const d of done) expect(d.elapsedMs).toBeGreaterThanOrEqual(STOP_TIMEOUT_MS - 200);
    expect(await host.containers()).toEqual([expect.objectContaining({ id: toV1.container, version: 'v1', state: 'running' })]);
    expect({ failed: figures.failed, samples: report.samples }).toEqual({ failed: 0, samples: [] });
  }, 120_000);
});

describe('gantry local update: the teardown after the result, or before it with --wait-teardown', () => {
  let host: LocalHost;
  let file: string;
  beforeAll(async () => {
    host = await localHost();
    file = join(host.stateDir, 'project.json');
    writeFileSync(file, JSON.stringify(demoConfig(PORT, deaf)));
  });
  afterAll(() => host?.cleanup(), 60_000);
  const hostArgs = () => ['--project', host.ctx.project, '--host', host.ctx.hostId, '--bind', host.ctx.bindAddress, '--state-dir', host.stateDir, '--docker-host', serviceEnv().dockerHost, '--haproxy', serviceEnv().haproxyBin];
  const update = async (tag: string, ...extra: string[]) => {
    const started = performance.now();
    const run = await runGantryAsync(['local', 'update', file, 'web', '--tag', tag, '--json', ...extra, ...hostArgs()]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    return { ms: Math.round(performance.now() - started), lines: run.stdout.trim().split('\n').map((l) => JSON.parse(l) as OutputLine) };
  };
  /** The fields of the --json lines this test reads: the result's and teardown-done's. */
  type OutputLine = { event: string; container?: string; elapsedMs?: number; teardown?: unknown; teardownResults?: Array<{ container: string; elapsedMs: number; error?: string }> };
  const at = (lines: OutputLine[], event: string) => lines.findIndex((l) => l.event === event);

  it('by default gives the result once drained, then says when the teardown finished; --wait-teardown gives it after', async () => {
    await update('v1');
    const byDefault = await update('v2');
    const result = byDefault.lines[at(byDefault.lines, 'result')];
    const done = byDefault.lines[at(byDefault.lines, 'teardown-done')];
    expect(result.teardown).toEqual([{ container: done.container, stopTimeoutMs: STOP_TIMEOUT_MS }]);
    expect(at(byDefault.lines, 'result')).toBeLessThan(at(byDefault.lines, 'teardown-done'));
    expect(done.elapsedMs).toBeGreaterThanOrEqual(STOP_TIMEOUT_MS - 200);
    // The command exits once the teardown is over: nothing is left behind.
    expect((await host.containers()).map((c) => c.version)).toEqual(['v2']);

    const waiting = await update('v1', '--wait-teardown');
    const waited = waiting.lines[at(waiting.lines, 'result')].teardownResults ?? [];
    expect(at(waiting.lines, 'teardown-done')).toBeLessThan(at(waiting.lines, 'result'));
    // The v2 container the default run started is the one this run tore down, before its result.
    expect(waited).toEqual([expect.objectContaining({ container: result.container })]);
    expect(waited[0].error).toBeUndefined();
    expect(waited[0].elapsedMs).toBeGreaterThanOrEqual(STOP_TIMEOUT_MS - 200);
    expect((await host.containers()).map((c) => c.version)).toEqual(['v1']);
    console.log(`gantry local update, deaf app: default run ${byDefault.ms} ms (teardown ${done.elapsedMs} ms, after its result), --wait-teardown run ${waiting.ms} ms`);
  }, 120_000);

  it('interrupted during the teardown, exits at once (130); the next run removes the old container', async () => {
    const [before] = await host.containers();
    const child = spawn(process.execPath, [gantryBin, 'local', 'update', file, 'web', '--tag', 'v2', '--json', ...hostArgs()], { stdio: ['ignore', 'pipe', 'pipe'], env: cliEnv });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    for await (const line of createInterface({ input: child.stdout })) if ((JSON.parse(line) as { event: string }).event === 'result') break;
    const interruptedAt = performance.now();
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    const exitMs = Math.round(performance.now() - interruptedAt);
    expect(stderr).toContain(`dockerd finishes the stop of ${before.id.slice(0, 12)}`);
    expect(exitMs).toBeLessThan(STOP_TIMEOUT_MS / 2);
    expect((await host.containers()).map((c) => c.id)).toContain(before.id);

    await update('v2');
    expect((await host.containers()).map((c) => c.version)).toEqual(['v2']);
    console.log(`gantry local update interrupted mid-teardown: exited ${exitMs} ms after SIGINT; the next run removed ${before.id.slice(0, 12)}`);
  }, 120_000);
});

/** The fleet, plus a rollout request and its history entry. */
class TeardownFleet extends Fleet {
  async rollout(id: string, toVersion: string, policy: Record<string, unknown>): Promise<void> {
    const request = rolloutRequestSchema.parse({ id, component: 'web', toVersion, policy, createdBy: 'test', createdAt: new Date().toISOString() });
    await this.etcd.put(keys.rolloutRequest(this.project, 'web')).value(JSON.stringify(request));
  }

  async history(id: string): Promise<RolloutHistoryEntry> {
    const text = await waitFor(async () => (await this.etcd.get(keys.rolloutHistory(this.project, 'web', id)).string()) ?? undefined, {
      timeoutMs: 120_000,
      intervalMs: 50,
      what: `rollout ${id} in history\n${this.agents.map((a) => a.tail(8)).join('\n')}`,
    });
    return rolloutHistoryEntrySchema.parse(JSON.parse(text));
  }

  /** Host i's status once `ok` holds for it. */
  statusWhere(i: number, ok: (s: ComponentStatus) => boolean, what: string, timeoutMs = 60_000): Promise<ComponentStatus> {
    return waitFor(
      async () => {
        const s = await this.status(i);
        return s && ok(s) ? s : undefined;
      },
      { timeoutMs, intervalMs: 50, what: `${what}\n${this.agents[i].tail(10)}` },
    );
  }
}

describe('gantryd: the teardown in the status, finished after a SIGKILL', () => {
  let fleet: TeardownFleet;
  beforeAll(async () => {
    fleet = TeardownFleet.onServices('teardown');
    await fleet.startServing(1, 'v1', deaf);
  }, 180_000);
  afterAll(() => fleet?.cleanup(), 120_000);

  it('running v2 while the old is torn down; the agent SIGKILLed mid-teardown, its successor finishes it', async () => {
    await fleet.setFleetVersion('v2');
    const tearing = await fleet.statusWhere(0, (s) => s.phase === 'running' && s.version === 'v2' && (s.teardown?.length ?? 0) > 0, 'running v2 with a teardown');
    const old = tearing.teardown![0];
    expect(old.stopTimeoutMs).toBe(STOP_TIMEOUT_MS);
    expect(tearing.containers.find((c) => c.id === old.container)).toMatchObject({ role: 'tearing-down', version: 'v1' });
    expect((await fleet.containers(0)).map((c) => c.id)).toContain(old.container);

    await fleet.agents[0].kill('SIGKILL');
    // What the agent began, nobody finishes while it is down: the container is still there.
    expect((await fleet.containers(0)).map((c) => c.id)).toContain(old.container);
    const downMs = await fleet.restart(0);
    await fleet.converged('v2');
    const left = await fleet.containers(0);
    const status = await fleet.status(0);
    console.log(`SIGKILL mid-teardown: agent back after ${downMs} ms; containers left: ${JSON.stringify(left.map((c) => [c.id.slice(0, 12), c.version, c.state]))}`);
    expect(left).toEqual([expect.objectContaining({ version: 'v2', state: 'running' })]);
    expect(status?.teardown).toBeUndefined();
  }, 180_000);
});

describe('a rollout of a SIGTERM-deaf app', () => {
  const HOSTS = 3;
  let fleet: TeardownFleet;
  beforeAll(async () => {
    fleet = TeardownFleet.onServices('teardown-rollout');
    await fleet.startServing(HOSTS, 'v1', deaf);
  }, 180_000);
  afterAll(() => fleet?.cleanup(), 120_000);

  it('one host at a time, its wall time does not contain the stop timeouts, and each host is left with one container', async () => {
    const loads = fleet.agents.map((_, i) => startLoad({ url: fleet.url(i), connections: 2, rate: 40 }));
    await waitFor(() => loads.every((l) => l.snapshot().ok > 10), { what: 'load to flow' });
    const started = Date.now();
    await fleet.rollout('deaf-v2', 'v2', { batch: { count: 1 }, minReadySeconds: 0 });
    const entry = await fleet.history('deaf-v2');
    const wallMs = Date.now() - started;
    await fleet.converged('v2');
    const allGoneMs = Date.now() - started;
    const totals = loadTotals(await Promise.all(loads.map((l) => l.stop())));
    console.log(
      `deaf rollout, ${HOSTS} hosts, batch 1, stop timeout ${STOP_TIMEOUT_MS} ms: ${JSON.stringify({ wallMs, untilEveryOldContainerGoneMs: allGoneMs, hostsTimesStopTimeoutMs: HOSTS * STOP_TIMEOUT_MS, sent: totals.sent, failed: totals.failed })}`,
    );

    expect(entry.state.state).toBe('succeeded');
    expect(entry.state.hosts.map((h) => h.result)).toEqual(['done', 'done', 'done']);
    expect(wallMs).toBeLessThan(HOSTS * STOP_TIMEOUT_MS);
    for (let i = 0; i < HOSTS; i++) expect(await fleet.containers(i)).toEqual([expect.objectContaining({ version: 'v2', state: 'running' })]);
    expect({ failed: totals.failed, samples: totals.samples }).toEqual({ failed: 0, samples: [] });
  }, 300_000);
});
