/**
 * The host's HAProxy dies or loses its files under a running gantryd, under load: the agent's proxy
 * watch (not the resync, set to 60 s here) restores it from the persisted state, adopting every
 * server in its state, and no container is replaced. A full disk while the proxy's files are
 * written fails the update cleanly: nothing half-written, the old version keeps serving.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDemoImages, httpGet, loadTotals, serviceEnv, startLoad, waitFor, type LoadRun } from '@gantry/testkit';
import { Fleet } from '../support/fleet';
import { recordFault } from './fault-report';

beforeAll(() => ensureDemoImages(), 600_000);

const proxyDir = (fleet: Fleet) => join(fleet.stateDir, 'h1', 'haproxy');
const masterPid = (fleet: Fleet): number | undefined => {
  try {
    return Number(readFileSync(join(proxyDir(fleet), 'haproxy.pid'), 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
};
const childrenOf = (pid: number): number[] =>
  execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).split('\n').map(Number).filter((n) => n > 0);
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Time from `since` until `restored()` holds and a fresh connection gets a 200 again (ms). */
async function serviceBack(fleet: Fleet, since: number, what: string, restored: () => boolean = () => true): Promise<number> {
  await waitFor(async () => restored() && (await httpGet(fleet.url(0), 2_000).catch(() => undefined))?.status === 200, { timeoutMs: 30_000, intervalMs: 20, what });
  return Date.now() - since;
}

describe('HAProxy faults under a running agent', () => {
  let fleet: Fleet;
  let load: LoadRun | undefined;

  beforeEach(async () => {
    fleet = new Fleet(serviceEnv().etcdEndpoints, 'proxy-fault');
    await fleet.start(1, {}, ['--resync', '60']);
    await fleet.setFleetVersion('v1');
    await fleet.converged('v1');
  }, 180_000);
  afterEach(async () => {
    await load?.stop();
    load = undefined;
    await fleet.cleanup();
  }, 120_000);

  const containerIds = async () => (await fleet.containers(0)).map((c) => c.id).sort();

  test.each([
    ['worker', 'one HAProxy worker SIGKILLed'],
    ['master', 'the HAProxy master SIGKILLed'],
  ] as const)('%s SIGKILLed: restored from its persisted state within about a second, no container replaced', async (which, fault) => {
    const before = await containerIds();
    load = startLoad({ url: fleet.url(0), connections: 4, rate: 200 });
    await waitFor(() => load!.snapshot().ok > 50, { what: 'load to flow' });
    const master = masterPid(fleet)!;
    const victim = which === 'master' ? master : childrenOf(master)[0];
    expect(victim).toBeGreaterThan(0);
    const injected = Date.now();
    process.kill(victim, 'SIGKILL');
    // Until a new master answers: right after a SIGKILL of the master its worker may still answer
    // for a few ms (it exits when it sees its master gone), which is no restore.
    const recoveryMs = await serviceBack(fleet, injected, 'HAProxy to be restored', () => masterPid(fleet) !== undefined && masterPid(fleet) !== master);
    expect(masterPid(fleet)).not.toBe(master);
    expect(alive(master)).toBe(false);
    // Traffic goes on on the restored proxy, to the same container.
    await waitFor(() => load!.snapshot().ok > 100 + load!.snapshot().errors, { what: 'load to flow again' });
    const report = await load.stop();
    load = undefined;
    const after = await containerIds();
    expect(after).toEqual(before);
    expect(recoveryMs).toBeLessThan(3_000);
    const totals = loadTotals([report]);
    recordFault({
      fault,
      injected: `SIGKILL of the ${which} (pid ${victim}) under 200 req/s keep-alive load`,
      sent: totals.sent,
      failed: totals.failed,
      recoveryMs,
      replaced: before.filter((id) => !after.includes(id)).length,
      note: 'HAProxy 2.6 takes its listeners down with either process (its master exits when the worker dies: no-exit-on-failure is lost in wait mode); recovery = kill to a fresh connection answered',
    });
  });

  test('state directory deleted: files written again, the running HAProxy replaced gracefully, 0 failed, next update works', async () => {
    const before = await containerIds();
    load = startLoad({ url: fleet.url(0), connections: 4, rate: 200 });
    await waitFor(() => load!.snapshot().ok > 50, { what: 'load to flow' });
    const master = masterPid(fleet)!;
    const injected = Date.now();
    execFileSync('rm', ['-rf', join(fleet.stateDir, 'h1')]);
    await waitFor(() => existsSync(join(proxyDir(fleet), 'desired.json')) && masterPid(fleet) !== undefined && masterPid(fleet) !== master, { timeoutMs: 15_000, intervalMs: 20, what: 'the proxy restored in a new state directory' });
    const recoveryMs = Date.now() - injected;
    // The unreachable HAProxy was soft-stopped once the new one listened.
    await waitFor(() => !alive(master), { timeoutMs: 15_000, what: `old master ${master} to exit` });
    expect(await containerIds()).toEqual(before);
    // The restored proxy is fully usable: an update through it loses nothing.
    await fleet.setFleetVersion('v2');
    await fleet.converged('v2');
    const report = await load.stop();
    load = undefined;
    const totals = loadTotals([report]);
    expect(totals.failed).toBe(0);
    recordFault({
      fault: "the agent's state directory deleted",
      injected: `rm -rf of the host's state directory (pidfile, sockets, config, desired state) under 200 req/s, then an update v1 → v2`,
      sent: totals.sent,
      failed: totals.failed,
      recoveryMs,
      replaced: 0,
      note: 'recovery = deletion to files rewritten from memory and a fresh HAProxy serving beside the unreachable one (SO_REUSEPORT), which is then soft-stopped',
    });
  });
});

describe('a full disk while HAProxy files are written', () => {
  let fleet: Fleet;
  let mounted = false;
  afterAll(async () => {
    await fleet?.cleanup().catch(() => undefined);
    if (mounted) execFileSync('umount', ['-l', proxyDir(fleet)]);
  }, 120_000);

  test('the update fails naming the disk, nothing half-written, v1 serves on; space back, the update completes', async () => {
    fleet = new Fleet(serviceEnv().etcdEndpoints, 'disk-full');
    execFileSync('mkdir', ['-p', proxyDir(fleet)]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', proxyDir(fleet)]);
    mounted = true;
    await fleet.start(1, {}, ['--resync', '60']);
    await fleet.setFleetVersion('v1');
    await fleet.converged('v1');
    const before = await fleet.containers(0);
    const load = startLoad({ url: fleet.url(0), connections: 4, rate: 200 });
    await waitFor(() => load.snapshot().ok > 50, { what: 'load to flow' });

    // Fill the filesystem to the last byte.
    const filler = join(proxyDir(fleet), 'filler');
    const handle = await open(filler, 'w');
    try {
      for (;;) await handle.write(Buffer.alloc(64 * 1024));
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    } finally {
      await handle.close().catch(() => undefined);
    }
    const injected = Date.now();
    await fleet.setFleetVersion('v2');
    const failed = await waitFor(async () => {
      const s = await fleet.status(0);
      return s?.phase === 'failed' ? s : undefined;
    }, { timeoutMs: 90_000, what: 'the update to fail on the full disk' });
    expect(failed.lastError?.reason).toMatch(/ENOSPC|no space/i);
    expect(failed.version).toBe('v1');
    const files = readdirSync(proxyDir(fleet));
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    JSON.parse(readFileSync(join(proxyDir(fleet), 'desired.json'), 'utf8'));
    expect((await httpGet(fleet.url(0))).version).toBe('v1');
    expect((await fleet.containers(0)).map((c) => c.id)).toContain(before[0].id);

    await unlink(filler);
    await fleet.setFleetVersion('v2'); // a new desired value is retried at once
    await fleet.converged('v2');
    const recoveryMs = Date.now() - injected;
    const totals = loadTotals([await load.stop()]);
    expect(totals.failed).toBe(0);
    recordFault({
      fault: 'the disk full while HAProxy files are written',
      injected: "the host's proxy state directory on a 1 MiB tmpfs filled to ENOSPC, then an update v1 → v2; space freed and v2 set again",
      sent: totals.sent,
      failed: totals.failed,
      recoveryMs,
      replaced: 0,
      note: 'the update failed with ENOSPC, no temp or partial file left, v1 served throughout; recovery = fault to v2 running after space was freed: includes the agent\'s 30 s pause before it retries a failed target, and the update',
    });
  });
});
