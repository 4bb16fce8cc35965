/**
 * SIMULATION: an in-memory host engine (no Docker, no HAProxy) for running hundreds of real
 * `Agent`s in one process against a real etcd. Containers are records with a fake published port;
 * the proxy keeps its frontends and servers in a map and reports 0 live connections for every
 * server, so drains end at once. Use it only with configs whose ready and health checks are empty:
 * nothing listens on the fake ports.
 */
import type { Component } from '@gantry/spec';
import type {
  ContainerRuntime,
  CreateContext,
  EngineDeps,
  EnsureImageRequest,
  ExecResult,
  Frontend,
  HostProxy,
  MaintenanceAnswer,
  ProxyRestore,
  ImageInfo,
  ManagedContainer,
  ProxyServer,
  ServerState,
  ServerStatus,
} from '@gantry/agent';
import type { ContainerSelector } from '@gantry/agent';

export interface SimulationTiming {
  /** Delay of start() (ms), as a container process booting. Default 0. */
  startMs?: number;
  /** Extra delay at the end of start() (ms), standing in for the app getting ready (no ready check runs). Default 0. */
  readyMs?: number;
  /** Delay of create() (ms). Default 0. */
  createMs?: number;
}

const sleep = (ms: number) => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve());

/** Fake host ports, unique in the process. */
let nextPort = 20_000;
let nextId = 1;

interface SimContainer extends ManagedContainer {
  containerPorts: number[];
  publishAddress: string;
}

const copy = (c: SimContainer): ManagedContainer => {
  const { containerPorts: _p, publishAddress: _a, ...rest } = c;
  return { ...rest, hostPorts: { ...rest.hostPorts } };
};

/** {@link ContainerRuntime} in memory: SIMULATION. */
export class SimulatedRuntime implements ContainerRuntime {
  readonly containers = new Map<string, SimContainer>();
  /** Calls per method, to see what the engine asked for. */
  readonly calls: Record<string, number> = {};

  constructor(private readonly timing: SimulationTiming = {}) {}

  private count(name: string): void {
    this.calls[name] = (this.calls[name] ?? 0) + 1;
  }

  async ensureImage(ref: string, _opts?: EnsureImageRequest): Promise<ImageInfo> {
    this.count('ensureImage');
    return { id: `sim:${ref}`, repoDigests: [], pulled: false };
  }

  async create(component: Component, ctx: CreateContext): Promise<ManagedContainer> {
    this.count('create');
    await sleep(this.timing.createMs ?? 0);
    const version = ctx.version ?? component.digest ?? component.tag;
    const image = ctx.imageRef ?? `${component.repo}:${version}`;
    const n = nextId++;
    // Unique in its first 12 characters, as Docker's ids are: the engine names a container's proxy
    // server by them (serverName). `sim` first made every id up to 999 share them, so draining a
    // host's old container removed its new one's server too, and the host replaced it again.
    const id = `${String(n).padStart(12, '0')}sim`;
    const instanceId = ctx.instanceId ?? n.toString(16).padStart(12, '0');
    const c: SimContainer = {
      id,
      name: `${ctx.project}-${component.name}-${instanceId}`,
      project: ctx.project,
      component: component.name,
      hostId: ctx.hostId,
      version,
      image,
      imageId: `sim:${image}`,
      state: 'created',
      health: 'none',
      createdAt: new Date(),
      hostPorts: {},
      instanceId,
      configHash: ctx.configHash,
      restartCount: 0,
      containerPorts: component.ports.map((p) => p.container),
      publishAddress: ctx.publishAddress ?? '127.0.0.1',
    };
    this.containers.set(id, c);
    return copy(c);
  }

  async start(id: string): Promise<ManagedContainer> {
    this.count('start');
    const c = this.containers.get(id);
    if (!c) throw new Error(`cannot start container ${id}: it does not exist`);
    await sleep((this.timing.startMs ?? 0) + (this.timing.readyMs ?? 0));
    if (c.state !== 'running') {
      c.state = 'running';
      c.startedAt = new Date();
      for (const port of c.containerPorts) c.hostPorts[port] = { host: c.publishAddress, port: nextPort++ };
    }
    return copy(c);
  }

  async inspect(id: string): Promise<ManagedContainer | undefined> {
    this.count('inspect');
    const c = this.containers.get(id);
    return c && copy(c);
  }

  async list(filter: ContainerSelector): Promise<ManagedContainer[]> {
    this.count('list');
    return [...this.containers.values()]
      .filter((c) => c.project === filter.project && c.hostId === filter.hostId && (filter.component === undefined || c.component === filter.component))
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())
      .map(copy);
  }

  async exec(_id: string, _command: string[], _timeoutMs: number): Promise<ExecResult> {
    this.count('exec');
    return { exitCode: 0, output: '' };
  }

  async logs(_id: string, _opts?: { tail?: number }): Promise<string> {
    return '';
  }

  async signal(_id: string, _signal: string): Promise<void> {
    this.count('signal');
  }

  async stop(id: string, _timeoutMs: number): Promise<void> {
    this.count('stop');
    const c = this.containers.get(id);
    if (c && c.state === 'running') {
      c.state = 'exited';
      c.exitCode = 0;
    }
  }

  async remove(id: string): Promise<void> {
    this.count('remove');
    this.containers.delete(id);
  }
}

/** {@link HostProxy} in memory: SIMULATION. Every server has 0 live connections. */
export class SimulatedProxy implements HostProxy {
  frontends: Frontend[] = [];
  readonly serversByFrontend = new Map<string, Map<string, { server: ProxyServer; state: ServerState }>>();
  running = false;

  async ensure(frontends: Frontend[]): Promise<void> {
    this.frontends = frontends.map((f) => ({ ...f }));
    for (const f of frontends) if (!this.serversByFrontend.has(f.name)) this.serversByFrontend.set(f.name, new Map());
    for (const name of [...this.serversByFrontend.keys()]) if (!frontends.some((f) => f.name === name)) this.serversByFrontend.delete(name);
    this.running = true;
  }

  private frontend(name: string) {
    const servers = this.serversByFrontend.get(name);
    if (!servers) throw new Error(`unknown frontend ${name} (simulated proxy)`);
    return servers;
  }

  async addServer(frontend: string, server: ProxyServer, state: ServerState): Promise<void> {
    this.frontend(frontend).set(server.name, { server: { ...server }, state });
  }

  async setServerState(frontend: string, server: string, state: ServerState): Promise<void> {
    const s = this.frontend(frontend).get(server);
    if (!s) throw new Error(`unknown server ${frontend}/${server} (simulated proxy)`);
    s.state = state;
  }

  async removeServer(frontend: string, server: string): Promise<void> {
    this.serversByFrontend.get(frontend)?.delete(server);
  }

  async servers(frontend: string): Promise<ServerStatus[]> {
    if (!this.running) return [];
    return [...(this.serversByFrontend.get(frontend)?.values() ?? [])].map((s) => ({ ...s.server, state: s.state, liveConnections: 0 }));
  }

  async liveConnections(_frontend: string, _server: string): Promise<number> {
    return 0;
  }

  answers: Record<string, MaintenanceAnswer> = {};

  async setMaintenance(answers: Record<string, MaintenanceAnswer>): Promise<void> {
    this.answers = { ...answers };
  }

  async maintenance(): Promise<Record<string, MaintenanceAnswer>> {
    return { ...this.answers };
  }

  async restore(): Promise<ProxyRestore> {
    return { action: 'none' };
  }

  async healthy(): Promise<boolean> {
    return true;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.serversByFrontend.clear();
    this.frontends = [];
  }
}

/** One simulated host's engine (SIMULATION: no Docker, no HAProxy). */
export function simulatedEngine(timing: SimulationTiming = {}): EngineDeps & { runtime: SimulatedRuntime; proxy: SimulatedProxy } {
  return { runtime: new SimulatedRuntime(timing), proxy: new SimulatedProxy() };
}
