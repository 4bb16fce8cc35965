/**
 * `npm run demo`: a local fleet of three hosts — real etcd and dockerd, one gantryd and one HAProxy
 * per host on 127.0.1.N — deploys v1, then rolls v2 across the fleet host by host with
 * `gantry deploy` under continuous load on every host, showing its live view, and ends with the
 * requests sent and failed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { createHostEngine } from '@gantry/agent';
import { KeyLayout } from '@gantry/spec';
import { ensureDemoImages, loadTotals, repoRoot, serviceEnv, startLoad, waitFor } from '@gantry/testkit';
import { AgentProcess } from '../support/agent-process';
import { demoConfig } from '../support/demo-config';
import { freeHostAddresses } from '../support/local-host';

const HOSTS = 3;
const PORT = 80;

async function main(): Promise<number> {
  const env = serviceEnv();
  const project = `demo-${randomBytes(2).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'gantry-demo-'));
  const gantry = (...args: string[]) =>
    spawnSync(process.execPath, [join(repoRoot(), 'packages/cli/bin/gantry.js'), ...args, '--project', project, '--etcd', env.etcdEndpoints.join(',')], { encoding: 'utf8' });
  const say = (text: string) => process.stdout.write(`\n== ${text}\n`);
  const showStatus = () => process.stdout.write(gantry('status').stdout);
  const statusRows = () => (JSON.parse(gantry('status', '--json').stdout.trim().split('\n').pop() ?? '{}') as { rows?: Array<{ component: string | null; status: { phase: string; version?: string } | null }> }).rows ?? [];
  const allRunning = (version: string) => {
    const rows = statusRows().filter((r) => r.component === 'web');
    return rows.length === HOSTS && rows.every((r) => r.status?.phase === 'running' && r.status.version === version);
  };

  say('building the demo images and pushing them to the local registry');
  await ensureDemoImages();
  const addresses = await freeHostAddresses(HOSTS, PORT);
  const agents = addresses.map((bindAddress, i) => new AgentProcess({ hostId: `host${i + 1}`, project, bindAddress, stateDir: dir, etcd: env.etcdEndpoints }));
  try {
    say(`starting ${HOSTS} hosts: gantryd + HAProxy on ${addresses.join(', ')}`);
    agents.forEach((a) => a.start());
    const configFile = join(dir, 'demo.json');
    writeFileSync(configFile, JSON.stringify({ components: demoConfig(PORT, { drainTimeout: 10_000 }).components }, null, 2));
    process.stdout.write(gantry('config', 'set', configFile).stdout);
    await waitFor(() => gantry('hosts', '--json').stdout.includes(`host${HOSTS}`), { what: 'every agent to register', timeoutMs: 30_000 });
    process.stdout.write(gantry('hosts').stdout);

    say('deploying v1');
    process.stdout.write(gantry('set-version', 'web', 'v1', '--all').stdout);
    await waitFor(() => allRunning('v1'), { what: 'every host to run v1', timeoutMs: 120_000, intervalMs: 500 });
    showStatus();

    say(`rolling v2 across the fleet, one host at a time, under load on every host (${addresses.map((a) => `http://${a}:${PORT}/`).join(' ')})`);
    const loads = addresses.map((a) => startLoad({ url: `http://${a}:${PORT}/`, connections: 4, rate: 100 }));
    await waitFor(() => loads.every((l) => l.snapshot().ok > 50), { what: 'load to flow' });
    // `gantry deploy` follows the rollout live: redrawn in place on a terminal, plain lines otherwise.
    const deployed = await new Promise<number>((resolve) => {
      spawn(process.execPath, [join(repoRoot(), 'packages/cli/bin/gantry.js'), 'deploy', project, 'web', '--tag', 'v2', '--batch', '1', '--etcd', env.etcdEndpoints.join(',')], { stdio: 'inherit' }).once('exit', (code) => resolve(code ?? 1));
    });
    if (deployed !== 0) throw new Error(`gantry deploy exited ${deployed}`);
    await waitFor(() => allRunning('v2'), { what: 'every host to run v2', timeoutMs: 120_000, intervalMs: 150 });
    // Keep the load on a while, so the counts show v2 serving too.
    const until = Date.now() + 3_000;
    await waitFor(() => Date.now() >= until, { what: 'the last seconds of load', intervalMs: 100 });
    const reports = await Promise.all(loads.map((l) => l.stop()));
    say('done');
    const { sent, failed } = loadTotals(reports);
    reports.forEach((r, i) => process.stdout.write(`${addresses[i]}: ${r.sent} sent, ${r.errors + r.non2xx} failed, by version ${JSON.stringify(r.byVersion)}\n`));
    process.stdout.write(`requests: ${sent} sent, ${failed} failed\n`);
    return failed === 0 ? 0 : 1;
  } finally {
    await Promise.all(agents.map((a) => a.kill('SIGTERM')));
    for (const a of agents) {
      const { runtime, proxy } = createHostEngine({ stateDir: dir, hostId: a.spec.hostId, dockerHost: env.dockerHost });
      for (const c of await runtime.list({ project, hostId: a.spec.hostId })) await runtime.remove(c.id);
      await proxy.stop();
    }
    const etcd = new Etcd3({ hosts: env.etcdEndpoints });
    await etcd.delete().prefix(new KeyLayout().project(project));
    etcd.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
