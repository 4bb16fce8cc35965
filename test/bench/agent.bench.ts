/**
 * gantryd on etcd, measured with one real agent process:
 *   - etcd write → the agent starting work on it (its `converging` log line), over BENCH_WRITES writes;
 *   - a status change (its updatedAt) → the change printed by `gantry status --watch --json`;
 *   - etcd writes per idle agent per minute (the store revision over BENCH_IDLE_SECONDS).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Etcd3 } from 'etcd3';
import { createHostEngine } from '@gantry/agent';
import { KeyLayout } from '@gantry/spec';
import { ensureDemoImages, repoRoot, serviceEnv, waitFor } from '@gantry/testkit';
import { AgentProcess } from '../support/agent-process';
import { demoConfig } from '../support/demo-config';
import { freeHostAddresses } from '../support/local-host';
import { storeQuiet } from './etcd-quiet';
import { fmt, median, percentile, printTable } from './stats';

const WRITES = Number(process.env.BENCH_WRITES ?? 200);
const UPDATES = Number(process.env.BENCH_STATUS_UPDATES ?? 6);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
const keys = new KeyLayout();

export async function benchAgent(): Promise<void> {
  await ensureDemoImages();
  const env = serviceEnv();
  const project = `bench-${randomBytes(3).toString('hex')}`;
  const stateDir = mkdtempSync(join(tmpdir(), 'gantry-bench-'));
  const etcd = new Etcd3({ hosts: env.etcdEndpoints });
  const [bindAddress] = await freeHostAddresses(1, 80);
  const agent = new AgentProcess({ hostId: 'b1', project, bindAddress, stateDir, etcd: env.etcdEndpoints, env: { GANTRY_LOG_LEVEL: 'debug' } });
  const hostKey = keys.hostDesired(project, 'b1', 'web');
  const statusKey = keys.status(project, 'b1', 'web');
  const desired = (version: string) => JSON.stringify({ version, setBy: 'bench', setAt: new Date().toISOString() });
  const phaseIs = async (phase: string, version: string) => {
    const text = await etcd.get(statusKey).string();
    const s = text ? (JSON.parse(text) as { phase: string; version?: string }) : undefined;
    return s?.phase === phase && s.version === version;
  };
  try {
    await etcd.put(keys.config(project)).value(JSON.stringify(demoConfig(80)));
    await etcd.put(hostKey).value(desired('v1'));
    agent.start();
    await waitFor(() => phaseIs('running', 'v1'), { timeoutMs: 60_000, what: `the agent to run v1\n${agent.tail()}` });

    // 1. write → work: each write re-states v1 with a new setAt; the agent wakes, converges, finds nothing to do.
    const startedWork = new Map<string, number>();
    agent.onLog((line) => {
      const entry = JSON.parse(line) as { message?: string; desiredSetAt?: string; timestamp?: string };
      if (entry.message === 'converging' && entry.desiredSetAt && entry.timestamp) startedWork.set(entry.desiredSetAt, Date.parse(entry.timestamp));
    });
    const writeLatency: number[] = [];
    for (let i = 0; i < WRITES; i++) {
      const value = desired('v1');
      const setAt = (JSON.parse(value) as { setAt: string }).setAt;
      const sentAt = Date.parse(setAt);
      await etcd.put(hostKey).value(value);
      const seen = await waitFor(() => startedWork.get(setAt), { timeoutMs: 5_000, intervalMs: 1, what: `the agent to start work on write ${i}` });
      writeLatency.push(seen - sentAt);
      // Let the no-op converge finish, so each write meets an idle agent rather than the tail of the last one.
      const pause = Date.now() + 50;
      await waitFor(() => Date.now() >= pause, { intervalMs: 5, what: 'a pause between writes' });
    }

    // 2. status → watch: real updates, every status change timed from the agent's updatedAt to the CLI printing it.
    const watch = spawn(process.execPath, [join(repoRoot(), 'packages/cli/bin/gantry.js'), 'status', '--watch', '--json', '--project', project, '--etcd', env.etcdEndpoints.join(',')], { stdio: ['ignore', 'pipe', 'inherit'] });
    const visible: number[] = [];
    let watching = false;
    void (async () => {
      for await (const line of createInterface({ input: watch.stdout! })) {
        const arrived = Date.now();
        const event = JSON.parse(line) as { status?: { updatedAt?: string } };
        watching = true;
        if (event.status?.updatedAt) visible.push(arrived - Date.parse(event.status.updatedAt));
      }
    })();
    await waitFor(() => watching, { what: 'gantry status --watch to print the current rows' });
    visible.length = 0;
    for (let i = 0; i < UPDATES; i++) {
      const version = i % 2 === 0 ? 'v2' : 'v1';
      await etcd.put(hostKey).value(desired(version));
      await waitFor(() => phaseIs('running', version), { timeoutMs: 60_000, what: `the agent to run ${version}` });
    }
    await waitFor(() => visible.length > 0, { what: 'status changes in the watch' });
    watch.kill('SIGINT');

    // 3. idle: nothing changes, nothing should be written.
    await agent.kill('SIGTERM');
    agent.start();
    await waitFor(() => phaseIs('running', UPDATES % 2 === 0 ? 'v1' : 'v2'), { timeoutMs: 60_000, what: 'the restarted agent to settle' });
    // Settled: no write for longer than a status detail may wait (DETAIL_PACE, 3 s).
    await storeQuiet(etcd, 4_000, 60_000);
    const before = (await etcd.get(hostKey).exec()).header.revision;
    const idleStart = Date.now();
    await waitFor(() => Date.now() - idleStart >= IDLE_SECONDS * 1000, { timeoutMs: IDLE_SECONDS * 1000 + 5_000, intervalMs: 500, what: 'the idle period' });
    const after = (await etcd.get(hostKey).exec()).header.revision;
    const idleWritesPerMinute = ((Number(after) - Number(before)) * 60) / IDLE_SECONDS;

    printTable(`gantryd on etcd (one agent, local etcd)`, ['figure', 'samples', 'median', 'p99', 'max'], [
      ['etcd write → agent starts work', String(writeLatency.length), fmt(median(writeLatency)), fmt(percentile(writeLatency, 99)), fmt(Math.max(...writeLatency))],
      ['status change → gantry status --watch', String(visible.length), fmt(median(visible)), fmt(percentile(visible, 99)), fmt(Math.max(...visible))],
    ]);
    console.log(`\netcd writes by an idle agent: ${idleWritesPerMinute.toFixed(1)} per minute (store revision ${before} → ${after} over ${IDLE_SECONDS} s; the shared etcd, so any other writer would show here too)`);
  } finally {
    await agent.kill('SIGKILL');
    const { runtime, proxy } = createHostEngine({ stateDir, hostId: 'b1', dockerHost: env.dockerHost });
    for (const c of await runtime.list({ project, hostId: 'b1' })) await runtime.remove(c.id);
    await proxy.stop();
    await etcd.delete().prefix(keys.project(project));
    etcd.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}
