import type Docker from 'dockerode';
import { imageReference, type Component } from '@gantry/spec';
import { firstExitCode } from './container-exit';
import { containerCreateOptions } from './container-spec';
import { createDockerClient } from './docker-client';
import { daemonMessage, dockerStatus, isNotFound } from './docker-errors';
import { demuxDockerOutput } from './docker-stream';
import { execInContainer, type ExecResult } from './exec';
import { ensureImage, type EnsureImageOptions, type ImageInfo } from './image';
import { labelFilter, matchesSelector, newInstanceId, type ContainerSelector } from './labels';
import { toManagedContainer, type ManagedContainer } from './managed-container';
import { credentialsForImage, dockerConfigPath } from './registry-auth';

export type { ContainerHealth, ContainerState, ManagedContainer, PublishedPort } from './managed-container';
export type { ExecResult } from './exec';
export type { ImageInfo, PullProgress } from './image';

/** Options of {@link ContainerRuntime.ensureImage}; credentials come from the user's Docker config. */
export type EnsureImageRequest = Omit<EnsureImageOptions, 'credentials'>;

/** Where and as what a component's container is created. */
export interface CreateContext {
  project: string;
  hostId: string;
  /** The tag or digest being run. Default: the component's digest when pinned, else its tag. */
  version?: string;
  /** The image to run. Default: imageReference(component) ("repo@digest" when pinned, else "repo:tag"). */
  imageRef?: string;
  /** Address container ports are published on. Default 127.0.0.1. */
  publishAddress?: string;
  /** Recorded as the io.gantry.config-hash label. */
  configHash?: string;
  /** Replaces `{container_id}` in bindings; default a fresh 12-hex id (see container-spec.ts). */
  instanceId?: string;
}

/** The narrow view of the container engine the rest of the agent uses. */
export interface ContainerRuntime {
  /** Makes the image present locally (pulling it if needed) and checks a pinned digest. */
  ensureImage(ref: string, opts?: EnsureImageRequest): Promise<ImageInfo>;
  /** Creates the component's container; does not start it, does not pull. */
  create(component: Component, ctx: CreateContext): Promise<ManagedContainer>;
  /** Starts it and returns it with hostPorts filled in; fails if it exits right after start. */
  start(id: string): Promise<ManagedContainer>;
  /** undefined when the container is gone. */
  inspect(id: string): Promise<ManagedContainer | undefined>;
  /** Containers in any state carrying our labels for that project and host (and component). */
  list(filter: ContainerSelector): Promise<ManagedContainer[]>;
  /** Runs a command in a running container; throws on timeout. */
  exec(id: string, command: string[], timeoutMs: number): Promise<ExecResult>;
  /** stdout and stderr, demuxed, as text. */
  logs(id: string, opts?: { tail?: number }): Promise<string>;
  signal(id: string, signal: string): Promise<void>;
  /** Stop signal, then SIGKILL after timeoutMs (rounded up to seconds). Already stopped or gone is fine. */
  stop(id: string, timeoutMs: number): Promise<void>;
  /** Force-removes the container and its anonymous volumes. Gone is fine. */
  remove(id: string): Promise<void>;
}

export interface DockerRuntimeOptions {
  /** A ready client; else one is built from `dockerHost` ($DOCKER_HOST, /var/run/docker.sock). */
  docker?: Docker;
  dockerHost?: string;
  /**
   * How long start() watches a new container for an immediate exit (ms). Default 500. The
   * container's own ready checks catch later failures; this turns a crash on boot into an error
   * with its exit code and logs.
   */
  startupWatchMs?: number;
  /** Docker CLI config with registry credentials. Default $DOCKER_CONFIG/config.json or ~/.docker/config.json. */
  dockerConfigPath?: string;
  /** Log lines included in a start failure. Default 20. */
  failureLogLines?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const short = (id: string): string => (/^[a-f0-9]{64}$/.test(id) ? id.slice(0, 12) : id);

/** {@link ContainerRuntime} over the Docker Engine API (1.41+). */
export class DockerContainerRuntime implements ContainerRuntime {
  readonly docker: Docker;
  private readonly startupWatchMs: number;
  private readonly configPath: string;
  private readonly failureLogLines: number;

  constructor(opts: DockerRuntimeOptions = {}) {
    this.docker = opts.docker ?? createDockerClient(opts.dockerHost);
    this.startupWatchMs = opts.startupWatchMs ?? 0;
    this.configPath = opts.dockerConfigPath ?? dockerConfigPath();
    this.failureLogLines = opts.failureLogLines ?? 20;
  }

  async ensureImage(ref: string, opts: EnsureImageRequest = {}): Promise<ImageInfo> {
    // Credentials are read only if a pull is needed: a present image needs no docker config.
    return ensureImage(this.docker, ref, { ...opts, credentials: () => credentialsForImage(ref, this.configPath) });
  }

  async create(component: Component, ctx: CreateContext): Promise<ManagedContainer> {
    const imageRef = ctx.imageRef ?? imageReference(component);
    const optionsFor = (instanceId: string) =>
      containerCreateOptions(component, {
        project: ctx.project,
        hostId: ctx.hostId,
        version: ctx.version ?? component.digest ?? component.tag,
        imageRef,
        publishAddress: ctx.publishAddress,
        configHash: ctx.configHash,
        instanceId,
      });
    let options = optionsFor(ctx.instanceId ?? newInstanceId());
    let container: Docker.Container | undefined;
    for (let attempt = 1; !container; attempt += 1) {
      try {
        container = await this.docker.createContainer(options);
      } catch (err) {
        const message = daemonMessage(err);
        if (isNotFound(err) && /no such image/i.test(message)) {
          throw new Error(`cannot create container for component ${component.name}: image ${imageRef} is not present locally (ensureImage first): ${message}`, { cause: err });
        }
        // A random name suffix that collided: draw another once, unless the caller chose the id.
        if (dockerStatus(err) === 409 && /already in use/i.test(message) && ctx.instanceId === undefined && attempt === 1) {
          options = optionsFor(newInstanceId());
          continue;
        }
        throw new Error(`cannot create container ${options.name} for component ${component.name}: ${message}`, { cause: err });
      }
    }
    const created = await this.inspect(container.id);
    if (!created) throw new Error(`container ${options.name} (${short(container.id)}) disappeared right after create`);
    return created;
  }

  async start(id: string): Promise<ManagedContainer> {
    const before = await this.inspect(id);
    if (!before) throw new Error(`cannot start container ${short(id)}: it does not exist`);
    const startedAtMs = Date.now();
    try {
      await this.docker.getContainer(id).start();
    } catch (err) {
      if (dockerStatus(err) !== 304) {
        // The daemon's words say what is wrong: "port is already allocated", "cannot assign
        // requested address", "no such file or directory" for the command or a bind, ...
        throw new Error(`cannot start container ${before.name}: ${daemonMessage(err)}`, { cause: err });
      }
    }
    // Watch it briefly: a container that dies on boot is reported here with its exit code and
    // logs. A restart policy may already have restarted it, hence the restart count.
    const deadline = Date.now() + this.startupWatchMs;
    for (;;) {
      const info = await this.inspect(id);
      if (!info) throw new Error(`container ${before.name} disappeared right after start`);
      if (info.state === 'exited' || info.state === 'dead' || info.state === 'restarting' || info.restartCount > before.restartCount) {
        throw await this.exitedAfterStart(info, startedAtMs);
      }
      if (Date.now() >= deadline) return info;
      await sleep(Math.min(50, Math.max(0, deadline - Date.now())));
    }
  }

  private async exitedAfterStart(info: ManagedContainer, startedAtMs: number): Promise<Error> {
    const raw = await this.docker
      .getContainer(info.id)
      .inspect()
      .catch(() => undefined);
    const state = raw?.State;
    const restarted = info.restartCount > 0 || state?.Restarting === true;
    // Once restarted, State describes the new run: the first exit's code is in the daemon's events.
    const exitCode = restarted
      ? await firstExitCode(this.docker, info.id, startedAtMs).catch(() => undefined)
      : state && !state.Running
        ? state.ExitCode
        : info.exitCode;
    const details = [`exit code ${exitCode ?? 'unknown'}`];
    if (state?.OOMKilled) details.push('killed: out of memory');
    if (state?.Error) details.push(`docker: ${state.Error}`);
    if (restarted) details.push(`its restart policy restarted it ${info.restartCount} time(s) so far`);
    const logs = await this.logs(info.id, { tail: this.failureLogLines }).catch((err: Error) => `(logs unavailable: ${err.message})`);
    const shown = logs.trim() === '' ? '(no output)' : logs.trimEnd();
    return new Error(`container ${info.name} (component ${info.component}) exited right after start (${details.join('; ')}); last ${this.failureLogLines} log lines:\n${shown}`);
  }

  async inspect(id: string): Promise<ManagedContainer | undefined> {
    let raw: Docker.ContainerInspectInfo;
    try {
      raw = await this.docker.getContainer(id).inspect();
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw new Error(`cannot inspect container ${short(id)}: ${daemonMessage(err)}`, { cause: err });
    }
    const managed = toManagedContainer(raw);
    if (!managed) throw new Error(`container ${raw.Name.replace(/^\//, '')} (${short(raw.Id)}) is not managed by gantry (no io.gantry.managed label)`);
    return managed;
  }

  async list(filter: ContainerSelector): Promise<ManagedContainer[]> {
    let summaries: Docker.ContainerInfo[];
    try {
      summaries = await this.docker.listContainers({ all: true, filters: labelFilter(filter) });
    } catch (err) {
      throw new Error(`cannot list containers: ${daemonMessage(err)}`, { cause: err });
    }
    const found = await Promise.all(summaries.filter((s) => matchesSelector(s.Labels, filter)).map((s) => this.inspect(s.Id)));
    return found.filter((c): c is ManagedContainer => c !== undefined).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  }

  exec(id: string, command: string[], timeoutMs: number): Promise<ExecResult> {
    return execInContainer(this.docker, id, command, timeoutMs);
  }

  async logs(id: string, opts: { tail?: number } = {}): Promise<string> {
    try {
      const options = { stdout: true, stderr: true, follow: false as const, ...(opts.tail !== undefined ? { tail: opts.tail } : {}) };
      const data: unknown = await this.docker.getContainer(id).logs(options);
      return demuxDockerOutput(Buffer.isBuffer(data) ? data : Buffer.from(String(data)));
    } catch (err) {
      throw new Error(`cannot read logs of container ${short(id)}: ${daemonMessage(err)}`, { cause: err });
    }
  }

  async signal(id: string, signal: string): Promise<void> {
    try {
      await this.docker.getContainer(id).kill({ signal });
    } catch (err) {
      throw new Error(`cannot send ${signal} to container ${short(id)}: ${daemonMessage(err)}`, { cause: err });
    }
  }

  async stop(id: string, timeoutMs: number): Promise<void> {
    try {
      await this.docker.getContainer(id).stop({ t: Math.ceil(Math.max(0, timeoutMs) / 1000) });
    } catch (err) {
      const status = dockerStatus(err);
      if (status === 304 || status === 404) return; // already stopped / gone
      throw new Error(`cannot stop container ${short(id)}: ${daemonMessage(err)}`, { cause: err });
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (err) {
      const status = dockerStatus(err);
      if (status === 404) return;
      if (status === 409 && /already in progress/i.test(daemonMessage(err))) return;
      throw new Error(`cannot remove container ${short(id)}: ${daemonMessage(err)}`, { cause: err });
    }
  }
}
