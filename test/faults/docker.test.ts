/**
 * Docker faults under load, with a real gantryd: dockerd restarted with live-restore (nothing may
 * be lost or replaced), restarted without it (containers die; the agent follows their new ports),
 * and hung (SIGSTOP: traffic flows, status says "docker unavailable", SIGTERM still works).
 * dockerd is the one scripts/services.sh started; it is always left running with live-restore.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerContainerRuntime, createHostEngine } from '@gantry/agent';
import { devHome, ensureDemoImages, httpGet, repoRoot, serviceEnv, startLoad, waitFor } from '@gantry/testkit';
import { AgentProcess } from '../support/agent-process';
import { demoConfig } from '../support/demo-config';
import { Fleet, FLEET_PORT, keys } from '../support/fleet';
import { freeHostAddresses } from '../support/local-host';
import { recordFault } from './fault-report';

const pidFile = join(devHome(), 'docker', 'dockerd.pid');
const dockerdPid = (): number => Number(readFileSync(pidFile, 'utf8').trim());
const runtime = () => new DockerContainerRuntime({ dockerHost: serviceEnv().dockerHost, callTimeoutMs: 3_000 });

function services(args: string[], extraFlags = ''): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile('bash', [join(repoRoot(), 'scripts/services.sh'), ...args], { env: { ...process.env, GANTRY_DEV_DOCKERD_FLAGS: extraFlags } }, (err, _out, stderr) =>
      err ? reject(new Error(`services.sh ${args.join(' ')} failed: ${stderr}`)) : resolve(),
    ),
  );
}

/** Stops dockerd (services.sh: SIGTERM, waits for it to exit) and starts it again with the script's flags plus `extraFlags`. */
async function restartDockerd(extraFlags = ''): Promise<{ downMs: number }> {
  const since = Date.now();
  await services(['down', 'docker']);
  await services(['up', 'docker'], extraFlags);
  return { downMs: Date.now() - since };
}

async function liveRestoreEnabled(): Promise<boolean | undefined> {
  return (await runtime().docker.info().catch(() => undefined))?.LiveRestoreEnabled as boolean | undefined;
}

/** Whatever a test did: dockerd continued, answering, with live-restore. */
async function dockerdBackWithLiveRestore(): Promise<void> {
  try {
    process.kill(dockerdPid(), 'SIGCONT');
  } catch {
    // not running: started below
  }
  if ((await liveRestoreEnabled()) !== true) await restartDockerd();
  await waitFor(async () => (await liveRestoreEnabled()) === true, { timeoutMs: 60_000, what: 'dockerd answering with live-restore' });
}

/** The proxy's server for a container and where it sends. */
async function proxyServer(fleet: Fleet, containerId: string) {
  const { proxy } = createHostEngine({ stateDir: fleet.stateDir, hostId: 'h1', dockerHost: serviceEnv().dockerHost });
  return (await proxy.servers(`web-${FLEET_PORT}`)).find((s) => s.name === `c-${containerId.slice(0, 12)}`);
}

beforeAll(() => ensureDemoImages(), 600_000);
afterAll(() => dockerdBackWithLiveRestore(), 120_000);

describe('gantryd when dockerd restarts or hangs', () => {
  let fleet: Fleet;
  const agentArgs = ['--resync', '2', '--docker-timeout', '3'];

  beforeAll(async () => {
    await dockerdBackWithLiveRestore();
    fleet = new Fleet(serviceEnv().etcdEndpoints, 'dockerfault');
    await fleet.etcd.put(keys.config(fleet.project)).value(JSON.stringify(demoConfig(FLEET_PORT, { drainTimeout: 5_000 })));
    const [bindAddress] = await freeHostAddresses(1, FLEET_PORT);
    fleet.agents = [new AgentProcess({ hostId: 'h1', project: fleet.project, bindAddress, stateDir: fleet.stateDir, etcd: fleet.endpoints, extraArgs: agentArgs }).start()];
    await fleet.setFleetVersion('v1');
    await fleet.converged('v1').catch((err: Error) => {
      throw new Error(`${err.message}\n${fleet.agents[0].tail()}`);
    });
  });
  afterAll(async () => {
    await dockerdBackWithLiveRestore();
    await fleet.cleanup();
  });

  /** The agent reports v1 running, no error, one container, and HAProxy sends to that container's current port. */
  const settled = async () => {
    const s = await fleet.status(0);
    if (s?.phase !== 'running' || s.lastError !== undefined || s.containers.length !== 1) return false;
    const [c] = await fleet.containers(0);
    if (!c || c.state !== 'running') return false;
    const server = await proxyServer(fleet, c.id);
    return server?.port === c.hostPorts[8080]?.port && server.state === 'ready' ? c : false;
  };

  it('restarted with live-restore under load: nothing lost, nothing replaced', async () => {
    const before = (await fleet.containers(0))[0];
    const load = startLoad({ url: fleet.url(0), connections: 2, rate: 100 });
    await waitFor(() => load.snapshot().ok > 50, { what: 'load to flow' });
    const injected = Date.now();
    const { downMs } = await restartDockerd();
    const after = await waitFor(settled, { timeoutMs: 60_000, what: `h1 to settle after the dockerd restart\n${fleet.agents[0].tail()}` });
    const recoveryMs = Date.now() - injected;
    await waitFor(() => load.snapshot().ok > 0 && Date.now() - injected > recoveryMs + 1_000, { what: 'a second of load after recovery' });
    const report = await load.stop();
    const replaced = after.id === before.id ? 0 : 1;
    recordFault({
      fault: 'dockerd restarted (live-restore)',
      injected: `services.sh down docker; up docker (SIGTERM, dockerd gone and back in ${downMs} ms), --live-restore, userland proxy on`,
      sent: report.sent,
      failed: report.errors + report.non2xx,
      recoveryMs,
      replaced,
      note: `same container ${after.startedAt?.getTime() === before.startedAt?.getTime() ? 'not restarted' : 'RESTARTED'}, port ${before.hostPorts[8080].port}→${after.hostPorts[8080].port}; recovery = until the agent's status is clean and HAProxy points at the container${report.samples.length ? `; first failures: ${report.samples.slice(0, 2).join(' / ')}` : ''}`,
    });
    expect(replaced).toBe(0);
    expect(fleet.agents[0].running).toBe(true);
    // With the userland proxy (services.sh's dockerd), new connections are refused until dockerd is
    // back, and connections open through a docker-proxy die with it: HAProxy's retries (connect
    // failures, and requests whose server connection died before any answer: retry-on) cover both.
    // Without retry-on, 1 request in ~500 was measured to fail here.
    expect(report.non2xx).toBe(0);
    expect(report.errors).toBe(0);
  });

  it('hung (SIGSTOP) under load: traffic flows, status says docker unavailable, SIGTERM still stops gantryd; continued, all converges', async () => {
    const before = (await fleet.containers(0))[0];
    const load = startLoad({ url: fleet.url(0), connections: 2, rate: 100 });
    await waitFor(() => load.snapshot().ok > 50, { what: 'load to flow' });
    const pid = dockerdPid();
    const injected = Date.now();
    let unavailableMs = -1;
    let exitMs = -1;
    try {
      process.kill(pid, 'SIGSTOP');
      const status = await waitFor(async () => {
        const s = await fleet.status(0);
        return s?.lastError && /^docker unavailable: /.test(s.lastError.reason) ? s : undefined;
      }, { timeoutMs: 30_000, what: `h1 status to say docker unavailable\n${fleet.agents[0].tail()}` });
      unavailableMs = Date.now() - injected;
      expect(status.lastError!.reason).toMatch(/docker did not answer .* within 3000 ms at unix:\/\//);
      expect(status.phase).toBe('running');
      expect(fleet.agents[0].running).toBe(true);
      // Traffic keeps flowing: HAProxy → docker-proxy → container needs no dockerd.
      const okAt = load.snapshot().ok;
      await waitFor(() => load.snapshot().ok > okAt + 100, { what: 'traffic while dockerd is stopped' });

      const termAt = Date.now();
      await fleet.agents[0].kill('SIGTERM');
      exitMs = Date.now() - termAt;
      expect(await fleet.agents[0].exited()).toBe(0);
      expect(exitMs).toBeLessThan(12_000); // gantryd's stop deadline is 10 s
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await fleet.restart(0);
    const after = await waitFor(settled, { timeoutMs: 60_000, what: `h1 to converge after SIGCONT and a restart\n${fleet.agents[0].tail()}` });
    const recoveryMs = Date.now() - injected;
    const report = await load.stop();
    const replaced = after.id === before.id ? 0 : 1;
    recordFault({
      fault: 'dockerd hung (SIGSTOP)',
      injected: 'SIGSTOP to the dockerd pid under load; gantryd SIGTERMed while it is stopped; SIGCONT; gantryd started again',
      sent: report.sent,
      failed: report.errors + report.non2xx,
      recoveryMs,
      replaced,
      note: `status 'docker unavailable' after ${unavailableMs} ms (--resync 2, --docker-timeout 3); gantryd exited ${exitMs} ms after SIGTERM; recovery = until restarted and settled`,
    });
    expect(replaced).toBe(0);
    expect({ errors: report.errors, non2xx: report.non2xx }).toEqual({ errors: 0, non2xx: 0 });
  });

  it('restarted without live-restore under load: the container restarts or is replaced, the agent follows its new port, service is back', async () => {
    // Into a dockerd without live-restore first (its containers survive the stop of one with it).
    await restartDockerd('--live-restore=false');
    expect(await liveRestoreEnabled()).toBe(false);
    await waitFor(settled, { timeoutMs: 60_000, what: `h1 to settle on a dockerd without live-restore\n${fleet.agents[0].tail()}` });
    const before = (await fleet.containers(0))[0];

    const load = startLoad({ url: fleet.url(0), connections: 2, rate: 100, timeoutMs: 5_000 });
    await waitFor(() => load.snapshot().ok > 50, { what: 'load to flow' });
    const injected = Date.now();
    let after;
    let downMs = 0;
    try {
      ({ downMs } = await restartDockerd('--live-restore=false'));
      after = await waitFor(settled, { timeoutMs: 90_000, what: `h1 to settle after the dockerd restart\n${fleet.agents[0].tail()}` });
    } finally {
      // The rest of the suite (and everyone else) expects live-restore.
      await dockerdBackWithLiveRestore().catch(() => undefined);
    }
    const recoveryMs = Date.now() - injected;
    if (process.env.GANTRY_FAULT_DEBUG) console.log(fleet.agents[0].logs.filter((l) => !/"ready-check"/.test(l)).slice(-40).join('\n'));
    const failedAtRecovery = load.snapshot().errors + load.snapshot().non2xx;
    // Service is back through the frontend, on the container's new port.
    expect((await httpGet(fleet.url(0), 5_000)).status).toBe(200);
    const report = await load.stop();
    const replaced = after.id === before.id ? 0 : 1;
    recordFault({
      fault: 'dockerd restarted (no live-restore)',
      injected: `services.sh down docker; up docker with --live-restore=false (dockerd gone and back in ${downMs} ms): every container killed`,
      sent: report.sent,
      failed: report.errors + report.non2xx,
      recoveryMs,
      replaced,
      note: `${replaced ? 'replaced by the agent' : after.startedAt?.getTime() !== before.startedAt?.getTime() ? 'same container, restarted by its restart policy at dockerd start' : 'same container, NOT restarted'}, port ${before.hostPorts[8080].port}→${after.hostPorts[8080].port}, HAProxy and health checks followed; ${failedAtRecovery} failed by recovery; the outage is dockerd's (containers stopped with it)`,
    });
    expect(after.state).toBe('running');
  });
});
