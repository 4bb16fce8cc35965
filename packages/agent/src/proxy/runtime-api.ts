import { createConnection } from 'node:net';
import { hostPort } from './frontend';
import type { ServerState } from './frontend';
import {
  type ProcList,
  type ServerStateRow,
  type SessionRow,
  type StatRow,
  parseInfoPid,
  parseServersState,
  parseShowProc,
  parseShowSess,
  parseShowStat,
} from './runtime-parse';
import { type ServerLoad, type WorkerStats, serverLoads } from './server-load';
import { type MapEntries, parseShowMap } from './maintenance-maps';

/** Type filters of `show stat <proxy> <types> <sid>`. */
const STAT_FRONTEND = 1;
const STAT_BACKEND = 2;
const STAT_SERVERS = 4;

/** The socket did not accept a connection (HAProxy not running, or the master re-executing during a reload). */
export class SocketUnavailableError extends Error {
  constructor(
    readonly socketPath: string,
    readonly code: string,
  ) {
    super(`HAProxy socket ${socketPath} unavailable (${code})`);
    this.name = 'SocketUnavailableError';
  }
}

/** HAProxy answered a command with an error message. */
export class RuntimeApiError extends Error {
  constructor(
    readonly command: string,
    readonly response: string,
  ) {
    super(`HAProxy refused \`${command}\`: ${response.trim() || '(empty response)'}`);
    this.name = 'RuntimeApiError';
  }
}

const CONNECT_FAILURES = new Set(['ENOENT', 'ECONNREFUSED', 'EAGAIN']);

/**
 * Sends one command over a unix socket and returns everything HAProxy writes until it closes the
 * connection. The write side is shut after the command: the master CLI only answers and closes once
 * it sees the end of input (the worker CLI closes either way).
 */
export function sendCommand(socketPath: string, command: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let connected = false;
    const socket = createConnection(socketPath);
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer to \`${command}\` from ${socketPath} within ${timeoutMs} ms`)));
    socket.on('connect', () => {
      connected = true;
      socket.end(`${command}\n`);
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected && err.code && CONNECT_FAILURES.has(err.code)) reject(new SocketUnavailableError(socketPath, err.code));
      else reject(err);
    });
    socket.on('close', (hadError) => {
      if (!hadError) resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Like {@link sendCommand}, but rides out a socket that is briefly unavailable (the master
 * re-executes itself on reload). Only connection failures are retried, so a command is never sent
 * twice; `readOnly` commands are also retried when the connection breaks mid-answer.
 */
export async function sendCommandRetrying(socketPath: string, command: string, opts: { retryForMs?: number; readOnly?: boolean; timeoutMs?: number } = {}): Promise<string> {
  const deadline = Date.now() + (opts.retryForMs ?? 5_000);
  for (let attempt = 0; ; attempt++) {
    try {
      return await sendCommand(socketPath, command, opts.timeoutMs);
    } catch (err) {
      const retriable = err instanceof SocketUnavailableError || (opts.readOnly === true && (err as NodeJS.ErrnoException).code === 'ECONNRESET');
      if (!retriable || Date.now() >= deadline) throw err;
      await sleep(Math.min(20 * 2 ** attempt, 200));
    }
  }
}

const TARGET_GONE = /^Can't find the target PID/;

/**
 * Typed Runtime API of one HAProxy: the current worker through its stats socket, any worker (also
 * old ones after a reload) through the master CLI with `@!<pid>`.
 */
export class RuntimeApi {
  constructor(
    private readonly sockets: { adminSocket: string; masterSocket: string },
    private readonly timeoutMs = 10_000,
  ) {}

  /** A command to the current worker. */
  worker(command: string, readOnly = false): Promise<string> {
    return sendCommandRetrying(this.sockets.adminSocket, command, { readOnly, timeoutMs: this.timeoutMs });
  }

  /** A command to the master CLI. */
  master(command: string, readOnly = false): Promise<string> {
    return sendCommandRetrying(this.sockets.masterSocket, command, { readOnly, timeoutMs: this.timeoutMs });
  }

  /** A command to worker `pid` through the master; `undefined` when that worker has exited. */
  async onWorker(pid: number, command: string, readOnly = false): Promise<string | undefined> {
    const out = await this.master(`@!${pid} ${command}`, readOnly);
    return TARGET_GONE.test(out) ? undefined : out;
  }

  async showProc(): Promise<ProcList> {
    return parseShowProc(await this.master('show proc', true));
  }

  /** Pid of the process answering on the stats socket. */
  async workerPid(): Promise<number> {
    return parseInfoPid(await this.worker('show info', true));
  }

  async serversState(backend: string): Promise<ServerStateRow[]> {
    const out = await this.worker(`show servers state ${backend}`, true);
    if (/^Can't find backend/i.test(out.trim())) return [];
    return parseServersState(out);
  }

  /** `show stat <proxy> <types> -1` on worker `pid`; empty when the worker is gone or lacks the proxy. */
  async proxyStats(proxy: string, types: number, pid: number): Promise<StatRow[]> {
    const out = await this.onWorker(pid, `show stat ${proxy} ${types} -1`, true);
    if (out === undefined || !out.startsWith('# ')) return [];
    return parseShowStat(out).filter((row) => row.pxname === proxy);
  }

  /** Server rows of `backend` on worker `pid`. */
  serverStats(backend: string, pid: number): Promise<StatRow[]> {
    return this.proxyStats(backend, STAT_SERVERS, pid);
  }

  /**
   * What every worker reports for one frontend/backend pair: the current worker its server rows,
   * each old worker (after a reload) also its backend and frontend rows. See {@link serverLoads}.
   */
  async workerStats(frontendProxy: string, backend: string): Promise<WorkerStats> {
    const procs = await this.showProc();
    const current = await Promise.all(procs.current.map((p) => this.serverStats(backend, p.pid)));
    const old = await Promise.all(
      procs.old.map(async (p) => ({
        backend: await this.proxyStats(backend, STAT_BACKEND | STAT_SERVERS, p.pid),
        frontend: await this.proxyStats(frontendProxy, STAT_FRONTEND, p.pid),
      })),
    );
    return { current, old };
  }

  /** Sessions of each server, over the current and old workers; see {@link serverLoads}. */
  async serverLoads(frontendProxy: string, backend: string): Promise<Map<string, ServerLoad>> {
    return serverLoads(await this.workerStats(frontendProxy, backend));
  }

  /** Streams on worker `pid` (`show sess`); empty when the worker is gone. */
  async sessions(pid: number): Promise<SessionRow[]> {
    const out = await this.onWorker(pid, 'show sess', true);
    return out === undefined ? [] : parseShowSess(out);
  }

  /**
   * Closes the streams of one server on worker `pid` one by one (`shutdown session <id>`). For old
   * workers, which refuse every server command ("Proxy is disabled"), this is the only way.
   */
  async shutdownServerStreams(backend: string, server: string, pid: number): Promise<number> {
    const streams = (await this.sessions(pid)).filter((s) => s.backend === backend && s.server === server);
    for (const stream of streams) await this.onWorker(pid, `shutdown session ${stream.id}`);
    return streams.length;
  }

  /** `add server`; HAProxy 2.6 creates it in maintenance. */
  async addServer(backend: string, server: string, address: string, port: number): Promise<void> {
    const command = `add server ${backend}/${server} ${hostPort(address, port)}`;
    const out = await this.worker(command);
    if (!/New server registered/.test(out)) throw new RuntimeApiError(command, out);
  }

  async setServerAddress(backend: string, server: string, address: string, port: number): Promise<void> {
    const command = `set server ${backend}/${server} addr ${address} port ${port}`;
    const out = await this.worker(command);
    if (!/changed|no need to change/.test(out)) throw new RuntimeApiError(command, out);
  }

  /** `set server <b>/<s> state ...` on the current worker. */
  async setServerState(backend: string, server: string, state: ServerState): Promise<void> {
    const command = `set server ${backend}/${server} state ${state}`;
    const out = await this.worker(command);
    if (out.trim() !== '') throw new RuntimeApiError(command, out);
  }

  /** Closes every session of the server on the current worker (state `maint` alone leaves them open). */
  async shutdownSessions(backend: string, server: string): Promise<void> {
    const command = `shutdown sessions server ${backend}/${server}`;
    const out = await this.worker(command);
    if (out.trim() !== '') throw new RuntimeApiError(command, out);
  }

  /** `del server`: returns false while the server still has connections attached. */
  async deleteServer(backend: string, server: string): Promise<boolean> {
    const command = `del server ${backend}/${server}`;
    const out = await this.worker(command);
    if (/Server deleted|No such server/.test(out)) return true;
    if (/still has connections attached/.test(out)) return false;
    throw new RuntimeApiError(command, out);
  }

  /** The entries of a map file the config loaded (`show map <file>`), sorted by key. */
  async showMap(file: string): Promise<MapEntries> {
    const command = `show map ${file}`;
    const out = await this.worker(command, true);
    if (/^Unknown map identifier/.test(out.trim())) throw new RuntimeApiError(command, out);
    return parseShowMap(out);
  }

  /**
   * Replaces a map's entries at once: a new version is filled (one `add map` per entry, each value
   * as a payload line, so spaces and `;` in it need no escaping) and committed. Requests see the
   * old entries or the new ones, never a map half filled.
   */
  async replaceMap(file: string, entries: MapEntries): Promise<void> {
    const prepare = `prepare map ${file}`;
    const prepared = await this.worker(prepare);
    const version = /New version created: (\d+)/.exec(prepared)?.[1];
    if (!version) throw new RuntimeApiError(prepare, prepared);
    for (const [key, value] of entries) {
      const add = `add map @${version} ${file} <<\n${key} ${value}\n`;
      const out = await this.worker(add);
      if (out.trim() !== '') throw new RuntimeApiError(`add map @${version} ${file} ${key} …`, out);
    }
    const commit = `commit map @${version} ${file}`;
    const out = await this.worker(commit);
    if (out.trim() !== '') throw new RuntimeApiError(commit, out);
  }
}

export const isNoSuchServer = (err: unknown): boolean => err instanceof RuntimeApiError && /No such (server|backend)/.test(err.response);
