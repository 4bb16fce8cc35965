import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { open, stat, unlink } from 'node:fs/promises';
import { ProxyConfigError, ProxyProcessError } from './errors';
import { readIfExists } from './files';
import type { ProxyPaths } from './paths';
import { RuntimeApi, SocketUnavailableError, sendCommand } from './runtime-api';
import type { ProcList } from './runtime-parse';

export interface HaproxyProcessOptions {
  paths: ProxyPaths;
  /** The haproxy binary. */
  bin: string;
  api: RuntimeApi;
  /** How long a start or reload may take until the new worker answers. */
  readyTimeoutMs: number;
}

/** The running master and the worker serving new connections. */
export interface RunningProxy {
  masterPid: number;
  workerPid: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** True while `pid` exists and is not a zombie (an exited child nobody reaped yet). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no procfs: trust kill(0)
  }
}

/** Whether `pid` runs with our master socket on its command line (guards against a reused pid). */
function isOurMaster(pid: number, masterSocket: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((arg) => arg.startsWith(masterSocket));
  } catch {
    return isAlive(pid);
  }
}

/**
 * One HAProxy in master-worker mode, started fully detached so that it outlives the agent, and
 * found again (adopted) through its pidfile and master socket after the agent restarts.
 */
export class HaproxyProcess {
  constructor(private readonly opts: HaproxyProcessOptions) {}

  /** `haproxy -c`: throws {@link ProxyConfigError} with HAProxy's output when the config is invalid. */
  validate(configPath: string): Promise<void> {
    return new Promise((resolve, reject) => {
      execFile(this.opts.bin, ['-c', '-f', configPath], { timeout: 30_000 }, (err, stdout, stderr) => {
        if (!err) resolve();
        else if ((err as NodeJS.ErrnoException).code === 'ENOENT') reject(new Error(`cannot run ${this.opts.bin}: not found`));
        else reject(new ProxyConfigError(`${stdout}${stderr}`.trim() || err.message));
      });
    });
  }

  /** Master pid from the pidfile when that process is alive and is ours; `undefined` otherwise. */
  async masterPid(): Promise<number | undefined> {
    const text = await readIfExists(this.opts.paths.pidFile);
    const pid = Number.parseInt(text?.trim() ?? '', 10);
    if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid) || !isOurMaster(pid, this.opts.paths.masterSocket)) return undefined;
    return pid;
  }

  /**
   * The running HAProxy, adopted as is, or `undefined` when there is none (no pidfile, dead or
   * foreign pid). Throws when our master is alive but does not answer: starting a second one beside
   * it would share the ports (SO_REUSEPORT) instead of failing.
   */
  async running(): Promise<RunningProxy | undefined> {
    const masterPid = await this.masterPid();
    if (masterPid === undefined) return undefined;
    const procs = await this.opts.api.showProc();
    if (procs.master.pid !== masterPid) throw new Error(`master socket ${this.opts.paths.masterSocket} is answered by pid ${procs.master.pid}, pidfile says ${masterPid}`);
    const workerPid = await this.currentWorkerReady(procs);
    if (workerPid === undefined) throw new Error(`HAProxy master ${masterPid} has no worker answering on ${this.opts.paths.adminSocket}`);
    return { masterPid, workerPid };
  }

  /**
   * Every live process started for this state directory (masters and workers: they share the
   * command line naming our master socket), found through /proc. After the state directory was
   * deleted the pidfile and sockets are gone but these still serve: they are what a restore must
   * replace gracefully, not what it may ignore.
   */
  processes(): number[] {
    let entries: string[];
    try {
      entries = readdirSync('/proc');
    } catch {
      return [];
    }
    const found: number[] = [];
    for (const entry of entries) {
      const pid = Number(entry);
      if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) continue;
      try {
        const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        if (args.some((a) => a.startsWith(this.opts.paths.masterSocket)) && args.includes('-W') && isAlive(pid)) found.push(pid);
      } catch {
        // exited meanwhile
      }
    }
    return found;
  }

  /** Soft stop (SIGUSR1): they stop listening at once and finish the sessions they have. */
  softStop(pids: number[]): void {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGUSR1');
      } catch {
        // already gone
      }
    }
  }

  /** Starts a new master (`haproxy -W -S ...`), detached, stdio to the log; resolves once its worker answers. */
  async start(): Promise<RunningProxy> {
    const { paths, bin } = this.opts;
    await unlink(paths.pidFile).catch(() => undefined);
    const logOffset = await this.logSize();
    const log = openSync(paths.log, 'a', 0o600);
    let exited: string | undefined;
    let childPid: number | undefined;
    try {
      const child = spawn(bin, ['-W', '-S', `${paths.masterSocket},mode,600`, '-f', paths.config, '-p', paths.pidFile], {
        cwd: paths.dir,
        detached: true,
        stdio: ['ignore', log, log],
      });
      child.on('exit', (code, signal) => (exited = `haproxy exited during start (${signal ?? `code ${code}`})`));
      child.on('error', (err) => (exited = `could not run ${bin}: ${err.message}`));
      child.unref();
      childPid = child.pid;
    } finally {
      closeSync(log);
    }
    const deadline = Date.now() + this.opts.readyTimeoutMs;
    for (;;) {
      if (exited !== undefined) throw new ProxyProcessError(exited, await this.logSince(logOffset));
      const masterPid = await this.masterPid();
      if (masterPid !== undefined) {
        const procs = await this.opts.api.showProc().catch(() => undefined);
        const workerPid = procs && (await this.currentWorkerReady(procs));
        if (workerPid !== undefined) return { masterPid, workerPid };
      }
      if (Date.now() >= deadline) {
        // Not left half-started: a later start would share the ports with it (SO_REUSEPORT).
        if (childPid !== undefined) {
          try {
            process.kill(childPid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        throw new ProxyProcessError(`haproxy did not become ready within ${this.opts.readyTimeoutMs} ms`, await this.logSince(logOffset));
      }
      await sleep(25);
    }
  }

  /**
   * Seamless reload through the master CLI: the master re-executes with the config on disk, takes
   * the listening sockets over (`expose-fd listeners`), starts a new worker and lets the old ones
   * finish their sessions. Resolves once the new worker answers on the stats socket; throws with
   * the master's log when the reload failed (the old worker then keeps serving unchanged).
   */
  async reload(): Promise<RunningProxy> {
    const { api } = this.opts;
    const before = await api.showProc();
    const logOffset = await this.logSize();
    const previous = new Set([...before.current, ...before.old].map((p) => p.pid));
    try {
      await sendCommand(this.opts.paths.masterSocket, 'reload');
    } catch (err) {
      // The master may drop the connection while it re-executes; the polling below tells what happened.
      if (err instanceof SocketUnavailableError) throw err;
    }
    const deadline = Date.now() + this.opts.readyTimeoutMs;
    for (;;) {
      const procs = await api.showProc().catch(() => undefined);
      if (procs && procs.master.reloads > before.master.reloads) {
        const fresh = procs.current.find((p) => !previous.has(p.pid));
        if (fresh) {
          const workerPid = await this.currentWorkerReady(procs);
          if (workerPid === fresh.pid) return { masterPid: procs.master.pid, workerPid };
        } else if (procs.master.failedReloads > 0) {
          throw new ProxyProcessError('HAProxy reload failed; the previous worker keeps serving', await this.logSince(logOffset));
        }
      }
      if (Date.now() >= deadline) throw new ProxyProcessError(`HAProxy reload did not complete within ${this.opts.readyTimeoutMs} ms`, await this.logSince(logOffset));
      await sleep(25);
    }
  }

  /** Hard-stops the master and its workers (SIGTERM, then SIGKILL) and waits until they are gone. */
  async stop(timeoutMs = 10_000): Promise<void> {
    const masterPid = await this.masterPid();
    if (masterPid === undefined) return;
    const procs = await this.opts.api.showProc().catch(() => undefined);
    const workers = procs ? [...procs.current, ...procs.old].map((p) => p.pid) : [];
    const signalAll = (signal: NodeJS.Signals): void => {
      for (const pid of [masterPid, ...workers]) {
        try {
          process.kill(pid, signal);
        } catch {
          // already gone
        }
      }
    };
    signalAll('SIGTERM');
    const deadline = Date.now() + timeoutMs;
    while ([masterPid, ...workers].some(isAlive)) {
      if (Date.now() >= deadline) {
        signalAll('SIGKILL');
        await sleep(100);
        break;
      }
      await sleep(20);
    }
    await unlink(this.opts.paths.pidFile).catch(() => undefined);
  }

  /** The current worker's pid once it answers on the stats socket, else `undefined`. */
  private async currentWorkerReady(procs: ProcList): Promise<number | undefined> {
    const current = procs.current[0];
    if (!current) return undefined;
    const answering = await this.opts.api.workerPid().catch(() => undefined);
    return answering === current.pid ? current.pid : undefined;
  }

  private async logSize(): Promise<number> {
    return stat(this.opts.paths.log).then((s) => s.size, () => 0);
  }

  /** What the master wrote to its log since `offset`. */
  private async logSince(offset: number): Promise<string> {
    const handle = await open(this.opts.paths.log, 'r').catch(() => undefined);
    if (!handle) return '';
    try {
      const size = (await handle.stat()).size;
      const start = Math.max(offset, size - 64 * 1024);
      const buffer = Buffer.alloc(Math.max(0, size - start));
      await handle.read(buffer, 0, buffer.length, start);
      return buffer.toString('utf8');
    } finally {
      await handle.close();
    }
  }
}
