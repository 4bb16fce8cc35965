import { mkdir, unlink } from 'node:fs/promises';
import { probeNewBinds } from './bind-probe';
import { type ProxySettings, type ProxySettingsInput, renderConfig, renderServerState, resolveSettings, structureFingerprint } from './config';
import { type DesiredProxy, type DesiredServer, emptyDesired, findFrontend, findServer, parseDesired, withFrontends, withMaintenance, withoutServer, withServer } from './desired';
import { UnknownFrontendError, UnknownServerError } from './errors';
import { readIfExists, tempPathFor, writeFileAtomic, writeFileIfChanged } from './files';
import {
  type Frontend,
  type ProxyServer,
  type ServerState,
  assertValidFrontend,
  assertValidName,
  assertValidServer,
  assertValidState,
  backendName,
  frontendProxyName,
} from './frontend';
import { HaproxyProcess, type RunningProxy } from './haproxy-process';
import { renderHoldScript } from './maintenance-hold';
import { type MaintenanceAnswer, type MapEntries, maintenanceMapEntries, renderMapFile, sameEntries } from './maintenance-maps';
import { type ProxyPaths, proxyPaths } from './paths';
import { RuntimeApi, isNoSuchServer } from './runtime-api';
import type { ServerStateRow } from './runtime-parse';
import { liveConnectionsOf } from './server-load';

/** A server as the running proxy has it. */
export interface ServerStatus extends ProxyServer {
  state: ServerState;
  /**
   * Sessions plus queued requests on this server, summed over the current and old HAProxy workers,
   * plus idle client connections of old workers that still list it as usable (each may send one
   * more request there). What a drain waits for.
   */
  liveConnections: number;
}

/**
 * The host's proxy as the rest of the agent sees it. Every operation is idempotent and safe to
 * repeat after a crash at any point: what should be is persisted first, then the running proxy is
 * made to match it.
 */
export interface HostProxy {
  /** Starts or adopts the proxy and makes it serve exactly these frontends; reloads (seamlessly) only when they changed. */
  ensure(frontends: Frontend[]): Promise<void>;
  /** Adds the server (or updates its address) in the given state. */
  addServer(frontend: string, server: ProxyServer, state: ServerState): Promise<void>;
  setServerState(frontend: string, server: string, state: ServerState): Promise<void>;
  /** Takes the server out, closing its remaining sessions (on old workers too). A no-op when absent. */
  removeServer(frontend: string, server: string): Promise<void>;
  /**
   * The servers of a frontend as the running proxy has them; when it does not run, as its persisted
   * state has them (what a start loads). Throws when that state cannot be read: unknown is never empty.
   */
  servers(frontend: string): Promise<ServerStatus[]>;
  /**
   * Which http frontends answer 503, and with what (frontend name → answer; every other frontend
   * serves): all of them replaced at once, without a reload, servers and containers untouched.
   * Names no frontend has yet are kept, and answer from the frontend's start.
   */
  setMaintenance(answers: Record<string, MaintenanceAnswer>): Promise<void>;
  /** The frontends in maintenance as last set (persisted: what a restarted agent finds). */
  maintenance(): Promise<Record<string, MaintenanceAnswer>>;
  /** One server's {@link ServerStatus.liveConnections}; 0 when absent or when the proxy does not run. */
  liveConnections(frontend: string, server: string): Promise<number>;
  /**
   * Puts the proxy back when it is down or unreachable (its master or worker died, its state
   * directory was deleted): the files are written again from the last state known, a fresh HAProxy
   * starts with every server in its state, and any HAProxy of ours left unreachable is soft-stopped
   * once the new one serves. A no-op when the proxy runs as it should or has nothing to serve.
   */
  restore(): Promise<ProxyRestore>;
  /** A cheap check, for a watch to run often: false when {@link restore} has something to do. */
  healthy(): Promise<boolean>;
  /** Stops the proxy (hard): for tests and teardown only, the agent never stops it. */
  stop(): Promise<void>;
}

/** What {@link HostProxy.restore} found and did. */
export type ProxyRestore =
  | { action: 'none' }
  /** The files were missing (state directory deleted) and were written again; the proxy kept running. */
  | { action: 'files-rewritten' }
  | { action: 'restarted'; reason: string; replaced: number[]; tookMs: number };

export interface HaproxyHostProxyOptions {
  /** This host's proxy state directory, e.g. `/tmp/gantry-dev/hosts/<hostId>/haproxy`. */
  stateDir: string;
  /** The haproxy binary (default: `haproxy` on the PATH). */
  haproxyBin?: string;
  settings?: ProxySettingsInput;
  /** How long a start or reload may take until the new worker answers (default 20 s). */
  readyTimeoutMs?: number;
  /** How long removing a server may wait for its connections to detach (default 5 s). */
  removeTimeoutMs?: number;
}

/** What the running master last loaded: reload when either differs from what is wanted. */
interface Loaded {
  masterPid: number;
  fingerprint: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * {@link HostProxy} on a local HAProxy 2.6 in master-worker mode. The HAProxy outlives this object
 * and the agent: a new instance on the same state directory adopts it without interrupting traffic.
 * State directory: `desired.json` (the truth), `haproxy.cfg` and `servers.state` (rendered from it),
 * `loaded.json`, sockets, pidfile and log. One agent per state directory.
 */
export class HaproxyHostProxy implements HostProxy {
  readonly paths: ProxyPaths;
  readonly settings: ProxySettings;
  private readonly api: RuntimeApi;
  private readonly process: HaproxyProcess;
  private readonly removeTimeoutMs: number;
  private tail: Promise<unknown> = Promise.resolve();
  private lastDesired?: DesiredProxy;

  constructor(opts: HaproxyHostProxyOptions) {
    this.paths = proxyPaths(opts.stateDir);
    this.settings = resolveSettings(opts.settings);
    this.api = new RuntimeApi(this.paths);
    this.process = new HaproxyProcess({ paths: this.paths, bin: opts.haproxyBin ?? 'haproxy', api: this.api, readyTimeoutMs: opts.readyTimeoutMs ?? 20_000 });
    this.removeTimeoutMs = opts.removeTimeoutMs ?? 5_000;
  }

  restore(): Promise<ProxyRestore> {
    return this.exclusive(async () => {
      const started = Date.now();
      const desired = await this.loadDesired();
      if (desired.frontends.length === 0) return { action: 'none' };
      const filesMissing = (await readIfExists(this.paths.desired)) === undefined || (await readIfExists(this.paths.config)) === undefined;
      if (filesMissing) {
        await mkdir(this.paths.dir, { recursive: true, mode: 0o700 });
        await this.persist(desired, 'servers-only'); // rendered from a state that ran: no need to validate
      }
      let reason: string | undefined;
      try {
        if (!(await this.process.running())) reason = 'no HAProxy master runs for this state directory';
      } catch (err) {
        reason = `the HAProxy master does not answer: ${(err as Error).message}`;
      }
      if (!reason) return filesMissing ? { action: 'files-rewritten' } : { action: 'none' };
      // Ours but unreachable (sockets deleted, hung): they keep serving until the new one listens
      // beside them (SO_REUSEPORT), so their binds are not "taken".
      const strays = this.process.processes();
      await probeNewBinds(strays.length > 0 ? desired.frontends : [], desired.frontends, { ours: desired.frontends });
      const now = await this.process.start();
      await writeFileAtomic(this.paths.loaded, `${JSON.stringify({ masterPid: now.masterPid, fingerprint: structureFingerprint(this.configInput(desired)) } satisfies Loaded)}\n`);
      await this.convergeAll(desired);
      const replaced = strays.filter((pid) => pid !== now.masterPid && pid !== now.workerPid);
      this.process.softStop(replaced);
      return { action: 'restarted', reason, replaced, tookMs: Date.now() - started };
    });
  }

  async healthy(): Promise<boolean> {
    if ((await this.process.masterPid()) === undefined) return (await this.loadDesired().catch(() => emptyDesired())).frontends.length === 0;
    return (await readIfExists(this.paths.desired)) !== undefined && (await readIfExists(this.paths.config)) !== undefined;
  }

  ensure(frontends: Frontend[]): Promise<void> {
    return this.exclusive(() => {
      frontends.forEach(assertValidFrontend);
      return this.ensureNow((previous) => withFrontends(previous, frontends));
    });
  }

  setMaintenance(answers: Record<string, MaintenanceAnswer>): Promise<void> {
    return this.exclusive(async () => {
      const next = withMaintenance(await this.loadDesired(), answers);
      const running = await this.process.running();
      const loaded = await this.readLoaded();
      if (running && (loaded?.masterPid !== running.masterPid || loaded.fingerprint !== structureFingerprint(this.configInput(next)))) {
        // It runs a config without the maintenance rules (an older gantryd's): the reload the next
        // ensure() would make, now, with the maps in place.
        await this.ensureNow((previous) => withMaintenance(previous, answers));
        return;
      }
      await mkdir(this.paths.dir, { recursive: true, mode: 0o700 });
      await this.persist(next, 'servers-only'); // only map entries change: the config text does not
      // Not running: a start loads the files. Running: the maps change in place.
      if (running) await this.convergeMaps(next);
    });
  }

  async maintenance(): Promise<Record<string, MaintenanceAnswer>> {
    return (await this.loadDesired()).maintenance ?? {};
  }

  /** Persists `change` of the desired state and makes the running HAProxy match it (start, seamless reload, or Runtime API); inside {@link exclusive}. */
  private async ensureNow(change: (previous: DesiredProxy) => DesiredProxy): Promise<void> {
    await mkdir(this.paths.dir, { recursive: true, mode: 0o700 });
    const previous = await this.loadDesired();
    const next = change(previous);
    const running = await this.process.running();
    // Binds the running HAProxy holds are not probed; without one running, all of them are — those
    // our previous HAProxy held with a grace period, as its last worker may still be exiting.
    await probeNewBinds(running ? previous.frontends : [], next.frontends, { ours: running ? [] : previous.frontends });
    await this.persist(next); // validates first: a config HAProxy refuses changes nothing
    const loaded = await this.readLoaded();
    const fingerprint = structureFingerprint(this.configInput(next));
    if (running && loaded?.masterPid === running.masterPid && loaded.fingerprint === fingerprint) {
      await this.convergeAll(next);
      return;
    }
    let now: RunningProxy;
    try {
      now = running ? await this.process.reload() : await this.process.start();
    } catch (err) {
      // Keep on disk what still runs, so that a later reload or restart does not pick up what failed.
      await this.persist(previous).catch(() => undefined);
      throw err;
    }
    await writeFileAtomic(this.paths.loaded, `${JSON.stringify({ masterPid: now.masterPid, fingerprint } satisfies Loaded)}\n`);
    await this.convergeAll(next);
  }

  addServer(frontend: string, server: ProxyServer, state: ServerState): Promise<void> {
    return this.exclusive(async () => {
      assertValidServer(server);
      assertValidState(state);
      const previous = await this.loadDesired();
      if (!findFrontend(previous, frontend)) throw new UnknownFrontendError(frontend);
      await this.requireRunning();
      const wanted: DesiredServer = { name: server.name, address: server.address, port: server.port, state };
      await this.persist(withServer(previous, frontend, wanted), 'servers-only');
      try {
        await this.convergeServer(backendName(frontend), wanted, await this.liveServer(backendName(frontend), wanted.name));
      } catch (err) {
        if (!findServer(previous, frontend, server.name)) await this.persist(previous, 'servers-only').catch(() => undefined);
        throw err;
      }
    });
  }

  setServerState(frontend: string, server: string, state: ServerState): Promise<void> {
    return this.exclusive(async () => {
      assertValidState(state);
      const previous = await this.loadDesired();
      if (!findFrontend(previous, frontend)) throw new UnknownFrontendError(frontend);
      const current = findServer(previous, frontend, server);
      if (!current) throw new UnknownServerError(frontend, server);
      await this.requireRunning();
      const wanted = { ...current, state };
      await this.persist(withServer(previous, frontend, wanted), 'servers-only');
      // Old workers (after a reload) refuse server commands ("Proxy is disabled"): the state
      // applies to the current worker, and liveConnections() counts what old ones may still send.
      await this.convergeServer(backendName(frontend), wanted, await this.liveServer(backendName(frontend), server));
    });
  }

  removeServer(frontend: string, server: string): Promise<void> {
    return this.exclusive(async () => {
      assertValidName('server', server);
      const previous = await this.loadDesired();
      if (findServer(previous, frontend, server)) await this.persist(withoutServer(previous, frontend, server), 'servers-only');
      if ((await this.process.masterPid()) === undefined) return;
      await this.removeFromRuntime(backendName(frontend), server);
    });
  }

  async servers(frontend: string): Promise<ServerStatus[]> {
    // Not running (died, or not started yet after a reboot): the servers a start will load, from the
    // persisted state. An empty list here would make every container look like a leftover.
    if ((await this.process.masterPid()) === undefined) {
      return ((await this.loadDesired()).servers[frontend] ?? []).map((s) => ({ name: s.name, address: s.address, port: s.port, state: s.state, liveConnections: 0 }));
    }
    const backend = backendName(frontend);
    const [rows, loads] = await Promise.all([this.api.serversState(backend), this.api.serverLoads(frontendProxyName(frontend), backend)]);
    return rows.map((row) => ({
      name: row.server,
      address: row.address,
      port: row.port,
      state: row.state,
      liveConnections: liveConnectionsOf(loads.get(row.server)),
    }));
  }

  async liveConnections(frontend: string, server: string): Promise<number> {
    if ((await this.process.masterPid()) === undefined) return 0;
    return liveConnectionsOf((await this.api.serverLoads(frontendProxyName(frontend), backendName(frontend))).get(server));
  }

  stop(): Promise<void> {
    return this.exclusive(() => this.process.stop());
  }

  /** The running master and current worker, `undefined` when none runs. */
  running(): Promise<RunningProxy | undefined> {
    return this.process.running();
  }

  /** Runs mutations one at a time, in call order. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async requireRunning(): Promise<void> {
    if ((await this.process.masterPid()) === undefined) throw new Error(`HAProxy is not running for ${this.paths.dir}: call ensure() first`);
  }

  private configInput(desired: DesiredProxy) {
    return { paths: this.paths, settings: this.settings, desired };
  }

  /**
   * desired.json, else (deleted under us with its directory) the last state this process read or
   * wrote: the proxy that runs was made from it, and it must not be forgotten because a file went.
   */
  private async loadDesired(): Promise<DesiredProxy> {
    const text = await readIfExists(this.paths.desired);
    if (text === undefined) return this.lastDesired ?? emptyDesired();
    this.lastDesired = parseDesired(text);
    return this.lastDesired;
  }

  private async readLoaded(): Promise<Loaded | undefined> {
    const text = await readIfExists(this.paths.loaded);
    try {
      return text === undefined ? undefined : (JSON.parse(text) as Loaded);
    } catch {
      return undefined;
    }
  }

  /**
   * Writes the desired state and the files rendered from it, atomically; nothing is reloaded here.
   * With `validate`, a changed config passes `haproxy -c` before it is moved into place. Server
   * changes skip that (~40 ms, most of a switch): their lines are rendered from a name, an IP and a
   * port that were checked already, so they cannot make HAProxy refuse the config.
   */
  private async persist(desired: DesiredProxy, validate: 'validate' | 'servers-only' = 'validate'): Promise<void> {
    const config = renderConfig(this.configInput(desired));
    const configChanged = (await readIfExists(this.paths.config)) !== config;
    const candidate = tempPathFor(this.paths.config);
    try {
      await mkdir(this.paths.dir, { recursive: true, mode: 0o700 });
      await this.writeMaps(desired); // before a validation: the config loads them (and the script)
      if (configChanged && validate === 'validate') {
        await writeFileAtomic(candidate, config);
        await this.process.validate(candidate);
      }
      await writeFileIfChanged(this.paths.desired, `${JSON.stringify(desired, null, 2)}\n`);
      this.lastDesired = desired;
      await writeFileIfChanged(this.paths.serverState, renderServerState(desired));
      if (configChanged) await writeFileAtomic(this.paths.config, config);
    } finally {
      await unlink(candidate).catch(() => undefined);
    }
  }

  private async writeMaps(desired: DesiredProxy): Promise<void> {
    const maps = maintenanceMapEntries(desired.maintenance ?? {});
    const files = this.paths.maintenanceMaps;
    for (const name of ['html', 'json', 'hold'] as const) await writeFileIfChanged(files[name], renderMapFile(maps[name]));
    await writeFileIfChanged(this.paths.holdScript, renderHoldScript(files.hold));
  }

  /**
   * Makes the current worker's maintenance maps what `desired` says. A request held (the hold map)
   * must never meet a 503 it was not meant to, nor a request meant to be held pass: holds are
   * added before the 503 answers, and taken away after them.
   */
  private async convergeMaps(desired: DesiredProxy): Promise<void> {
    // Without an http frontend the config loads no 503 map (and nothing could answer 503): the files suffice.
    if (!desired.frontends.some((f) => f.mode === 'http')) return;
    const wanted = maintenanceMapEntries(desired.maintenance ?? {});
    const files = this.paths.maintenanceMaps;
    const set = async (name: 'html' | 'json' | 'hold', entries: MapEntries, live?: MapEntries): Promise<MapEntries> => {
      const now = live ?? (await this.api.showMap(files[name]));
      if (!sameEntries(now, entries)) await this.api.replaceMap(files[name], entries);
      return entries;
    };
    const liveHold = await this.api.showMap(files.hold);
    const wantedKeys = new Set(wanted.hold.map(([k]) => k));
    const union = [...wanted.hold, ...liveHold.filter(([k]) => !wantedKeys.has(k))].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const held = await set('hold', union, liveHold);
    await set('html', wanted.html);
    await set('json', wanted.json);
    await set('hold', wanted.hold, held);
  }

  /** Makes the current worker's maintenance maps and servers match the desired ones, frontend by frontend. */
  private async convergeAll(desired: DesiredProxy): Promise<void> {
    await this.convergeMaps(desired);
    for (const frontend of desired.frontends) {
      const backend = backendName(frontend.name);
      const live = await this.api.serversState(backend);
      const wanted = desired.servers[frontend.name] ?? [];
      for (const server of wanted) await this.convergeServer(backend, server, live.find((r) => r.server === server.name));
      for (const row of live) if (!wanted.some((s) => s.name === row.server)) await this.removeFromRuntime(backend, row.server);
    }
  }

  private async liveServer(backend: string, server: string): Promise<ServerStateRow | undefined> {
    return (await this.api.serversState(backend)).find((r) => r.server === server);
  }

  /** Adds the server if missing, fixes its address and state if they differ. */
  private async convergeServer(backend: string, wanted: DesiredServer, live: ServerStateRow | undefined): Promise<void> {
    let state: ServerState;
    if (!live) {
      await this.api.addServer(backend, wanted.name, wanted.address, wanted.port);
      state = 'maint'; // HAProxy 2.6 adds servers in maintenance
    } else {
      if (live.address !== wanted.address || live.port !== wanted.port) await this.api.setServerAddress(backend, wanted.name, wanted.address, wanted.port);
      state = live.state;
    }
    if (state !== wanted.state) await this.api.setServerState(backend, wanted.name, wanted.state);
  }

  /**
   * maint (no new sessions), `shutdown sessions` (maint alone keeps them), then `del server`,
   * retried while connections are still detaching. On old workers, which refuse server commands,
   * the server's streams are shut one by one.
   */
  private async removeFromRuntime(backend: string, server: string): Promise<void> {
    const procs = await this.api.showProc();
    await Promise.all(procs.old.map((p) => this.api.shutdownServerStreams(backend, server, p.pid)));
    if (!(await this.liveServer(backend, server))) return;
    const deadline = Date.now() + this.removeTimeoutMs;
    for (;;) {
      try {
        await this.api.setServerState(backend, server, 'maint');
        await this.api.shutdownSessions(backend, server);
        if (await this.api.deleteServer(backend, server)) return;
      } catch (err) {
        if (isNoSuchServer(err)) return;
        throw err;
      }
      if (Date.now() >= deadline) throw new Error(`server ${backend}/${server} still has connections after ${this.removeTimeoutMs} ms; not deleted`);
      await sleep(20);
    }
  }
}
