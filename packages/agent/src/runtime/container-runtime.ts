import type Docker from 'dockerode';
import { imageReference, type Component } from '@gantry/spec';
import { firstExitCode } from './container-exit';
import { containerCreateOptions } from './container-spec';
import { createDockerClient, describeDockerEndpoint } from './docker-client';
import { dockerUnavailable, withDockerDeadline } from './docker-deadline';
import { daemonMessage, dockerStatus, isNotFound } from './docker-errors';
import { demuxDockerOutput } from './docker-stream';
import { execInContainer, type ExecResult } from './exec';
import { ensureImage, repositoryOf, type EnsureImageOptions, type ImageInfo } from './image';
import { labelFilter, matchesSelector, newInstanceId, type ContainerSelector } from './labels';
import { toManagedContainer, type ManagedContainer } from './managed-container';
import { credentialsForImage, dockerConfigPath } from './registry-auth';

export type { ContainerHealth, ContainerState, ManagedContainer, PublishedPort } from './managed-container';
export type { ExecResult } from './exec';
export type { ImageInfo, PullProgress } from './image';
export { DockerCallAbortedError, DockerUnavailableError, dockerUnavailable, isDockerCallAborted } from './docker-deadline';

/** What every call takes: the caller's cancellation (an update's signal, the agent stopping). */
export interface CallOptions {
  signal?: AbortSignal;
}

/** Options of {@link ContainerRuntime.ensureImage}; credentials come from the user's Docker config. */
export type EnsureImageRequest = Omit<EnsureImageOptions, 'credentials'>;

/** An image dockerd has, for image retention. */
export interface LocalImage {
  /** "sha256:…". */
  id: string;
  /** Its "repo:tag" references. */
  tags: string[];
}

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

/**
 * The narrow view of the container engine the rest of the agent uses. Every call has a deadline:
 * a docker that does not answer in time fails it with DockerUnavailableError ("docker
 * unavailable: …"), as does one that cannot be reached; a call whose signal fires fails with
 * DockerCallAbortedError. Neither says anything about the containers' state.
 */
export interface ContainerRuntime {
  /** Makes the image present locally (pulling it if needed) and checks a pinned digest. */
  ensureImage(ref: string, opts?: EnsureImageRequest): Promise<ImageInfo>;
  /** Creates the component's container; does not start it, does not pull. */
  create(component: Component, ctx: CreateContext, opts?: CallOptions): Promise<ManagedContainer>;
  /** Starts it and returns it with hostPorts filled in; fails if it exits right after start. */
  start(id: string, opts?: CallOptions): Promise<ManagedContainer>;
  /** undefined when the container is gone. */
  inspect(id: string, opts?: CallOptions): Promise<ManagedContainer | undefined>;
  /** Containers in any state carrying our labels for that project and host (and component). */
  list(filter: ContainerSelector, opts?: CallOptions): Promise<ManagedContainer[]>;
  /** Runs a command in a running container; throws on timeout. */
  exec(id: string, command: string[], timeoutMs: number, opts?: CallOptions): Promise<ExecResult>;
  /** stdout and stderr, demuxed, as text. */
  logs(id: string, opts?: { tail?: number } & CallOptions): Promise<string>;
  signal(id: string, signal: string, opts?: CallOptions): Promise<void>;
  /**
   * Stop signal, then SIGKILL after timeoutMs (rounded up to seconds). Already stopped or gone is
   * fine. Its deadline is that timeout plus a margin.
   */
  stop(id: string, timeoutMs: number, opts?: CallOptions): Promise<void>;
  /** Force-removes the container and its anonymous volumes. Gone is fine. */
  remove(id: string, opts?: CallOptions): Promise<void>;
  /** The images with a tag of `repository` (image retention; optional: a runtime without it keeps every image). */
  listImages?(repository: string, opts?: CallOptions): Promise<LocalImage[]>;
  /** The image ids every container (any, in any state) was made from. */
  imagesInUse?(opts?: CallOptions): Promise<Set<string>>;
  /** Removes the reference `ref` (never forced: docker refuses while a container uses the image, and an image with other tags is only untagged). */
  removeImage?(ref: string, opts?: CallOptions): Promise<void>;
  /**
   * True while docker is away, and for `withinMs` after it was last seen away (a call it did not
   * answer, its event stream cut by a restart). Checks through its published ports fail meanwhile
   * for reasons that are not the container's.
   */
  dockerAwayWithin?(withinMs: number): boolean;
  /**
   * Follows the daemon (its event stream) until the returned stop is called; `onBack` runs each
   * time docker answers again after being away (a restart): what runs should be observed anew.
   */
  watchDaemon?(onBack: () => void): () => void;
}

/**
 * The same runtime with `signal` passed to every call (unless a call brings its own): what an
 * operation hands to code that knows nothing of its cancellation (observe, checks, retire).
 */
export function withSignal(runtime: ContainerRuntime, signal: AbortSignal | undefined): ContainerRuntime {
  if (!signal) return runtime;
  const o = <T extends CallOptions>(opts?: T): T => ({ signal, ...opts }) as T;
  return {
    ensureImage: (ref, opts) => runtime.ensureImage(ref, o(opts)),
    create: (component, ctx, opts) => runtime.create(component, ctx, o(opts)),
    start: (id, opts) => runtime.start(id, o(opts)),
    inspect: (id, opts) => runtime.inspect(id, o(opts)),
    list: (filter, opts) => runtime.list(filter, o(opts)),
    exec: (id, command, timeoutMs, opts) => runtime.exec(id, command, timeoutMs, o(opts)),
    logs: (id, opts) => runtime.logs(id, o(opts)),
    signal: (id, sig, opts) => runtime.signal(id, sig, o(opts)),
    stop: (id, timeoutMs, opts) => runtime.stop(id, timeoutMs, o(opts)),
    remove: (id, opts) => runtime.remove(id, o(opts)),
    ...(runtime.listImages && { listImages: (repository: string, opts?: CallOptions) => runtime.listImages!(repository, o(opts)) }),
    ...(runtime.imagesInUse && { imagesInUse: (opts?: CallOptions) => runtime.imagesInUse!(o(opts)) }),
    ...(runtime.removeImage && { removeImage: (ref: string, opts?: CallOptions) => runtime.removeImage!(ref, o(opts)) }),
    ...(runtime.dockerAwayWithin && { dockerAwayWithin: (ms: number) => runtime.dockerAwayWithin!(ms) }),
    ...(runtime.watchDaemon && { watchDaemon: (onBack: () => void) => runtime.watchDaemon!(onBack) }),
  };
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
  /** Deadline of each docker call (ms), but stop (its timeout + this) and pulls (below). Default 10 000. */
  callTimeoutMs?: number;
  /** A pull fails when docker reports no progress for this long (ms). Default 120 000. */
  pullInactivityMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const short = (id: string): string => (/^[a-f0-9]{64}$/.test(id) ? id.slice(0, 12) : id);

/** {@link ContainerRuntime} over the Docker Engine API (1.41+). */
export class DockerContainerRuntime implements ContainerRuntime {
  readonly docker: Docker;
  private readonly startupWatchMs: number;
  private readonly configPath: string;
  private readonly failureLogLines: number;
  readonly callTimeoutMs: number;
  private readonly pullInactivityMs: number;
  /** Where docker is, for errors: "unix:///var/run/docker.sock", "tcp://host:2375". */
  readonly where: string;

  constructor(opts: DockerRuntimeOptions = {}) {
    this.docker = opts.docker ?? createDockerClient(opts.dockerHost);
    this.startupWatchMs = opts.startupWatchMs ?? 0;
    this.configPath = opts.dockerConfigPath ?? dockerConfigPath();
    this.failureLogLines = opts.failureLogLines ?? 20;
    this.callTimeoutMs = opts.callTimeoutMs ?? 10_000;
    this.pullInactivityMs = opts.pullInactivityMs ?? 120_000;
    this.where = describeDockerEndpoint(this.docker);
  }

  /** Docker away now (its event stream is cut), and when it was last seen away (epoch ms). */
  private daemonAway = false;
  private lastAwayAt = Number.NEGATIVE_INFINITY;

  /** One docker call under the call deadline (or `timeoutMs`) and the caller's signal. */
  private call<T>(op: string, opts: CallOptions, run: (signal: AbortSignal) => Promise<T>, timeoutMs = this.callTimeoutMs): Promise<T> {
    return withDockerDeadline({ op, timeoutMs, where: this.where, signal: opts.signal }, run).catch((err: unknown) => {
      if (dockerUnavailable(err)) this.lastAwayAt = Date.now();
      throw err;
    });
  }

  dockerAwayWithin(withinMs: number): boolean {
    return this.daemonAway || Date.now() - this.lastAwayAt < withinMs;
  }

  watchDaemon(onBack: () => void, retryMs = 1_000): () => void {
    let stopped = false;
    let abort: AbortController | undefined;
    let timer: NodeJS.Timeout | undefined;
    const away = (): void => {
      this.daemonAway = true;
      this.lastAwayAt = Date.now();
    };
    const follow = async (): Promise<void> => {
      abort = new AbortController();
      try {
        // Docker answers /events with its headers at once, then one line per event: a stream that
        // ends (or a connection refused) is a daemon that went away.
        const stream = await this.call('watch events', { signal: abort.signal }, (abortSignal) =>
          this.docker.getEvents({ filters: { type: ['container'] }, abortSignal } as Parameters<Docker['getEvents']>[0]) as Promise<NodeJS.ReadableStream>,
        );
        if (this.daemonAway) {
          this.daemonAway = false;
          this.lastAwayAt = Date.now();
          onBack();
        }
        await new Promise<void>((resolve) => {
          stream.on('data', () => undefined);
          stream.once('end', resolve);
          stream.once('close', resolve);
          stream.once('error', () => resolve());
          abort!.signal.addEventListener('abort', () => resolve(), { once: true });
        });
      } catch {
        // away: retried below
      }
      if (stopped) return;
      away();
      timer = setTimeout(() => void follow(), retryMs);
      timer.unref();
    };
    void follow();
    return () => {
      stopped = true;
      clearTimeout(timer);
      abort?.abort();
    };
  }

  async ensureImage(ref: string, opts: EnsureImageRequest = {}): Promise<ImageInfo> {
    // Credentials are read only if a pull is needed: a present image needs no docker config.
    return ensureImage(this.docker, ref, {
      ...opts,
      credentials: (signal) => credentialsForImage(ref, this.configPath, { signal, helperTimeoutMs: this.callTimeoutMs }),
      deadlines: { callTimeoutMs: this.callTimeoutMs, inactivityMs: this.pullInactivityMs, where: this.where },
    });
  }

  async create(component: Component, ctx: CreateContext, opts: CallOptions = {}): Promise<ManagedContainer> {
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
        const body = options;
        container = await this.call(`create container ${body.name}`, opts, (abortSignal) => this.docker.createContainer({ ...body, abortSignal }));
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
    const created = await this.inspect(container.id, opts);
    if (!created) throw new Error(`container ${options.name} (${short(container.id)}) disappeared right after create`);
    return created;
  }

  async start(id: string, opts: CallOptions = {}): Promise<ManagedContainer> {
    const before = await this.inspect(id, opts);
    if (!before) throw new Error(`cannot start container ${short(id)}: it does not exist`);
    const startedAtMs = Date.now();
    try {
      await this.call(`start container ${before.name}`, opts, (abortSignal) => this.docker.getContainer(id).start({ abortSignal }));
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
      const info = await this.inspect(id, opts);
      if (!info) throw new Error(`container ${before.name} disappeared right after start`);
      if (info.state === 'exited' || info.state === 'dead' || info.state === 'restarting' || info.restartCount > before.restartCount) {
        throw await this.exitedAfterStart(info, startedAtMs, opts);
      }
      if (Date.now() >= deadline) return info;
      await sleep(Math.min(50, Math.max(0, deadline - Date.now())));
    }
  }

  private async exitedAfterStart(info: ManagedContainer, startedAtMs: number, opts: CallOptions): Promise<Error> {
    const raw = await this.call(`inspect container ${info.name}`, opts, (abortSignal) => this.docker.getContainer(info.id).inspect({ abortSignal })).catch(() => undefined);
    const state = raw?.State;
    const restarted = info.restartCount > 0 || state?.Restarting === true;
    // Once restarted, State describes the new run: the first exit's code is in the daemon's events.
    const exitCode = restarted
      ? await this.call(`read the events of container ${info.name}`, opts, () => firstExitCode(this.docker, info.id, startedAtMs)).catch(() => undefined)
      : state && !state.Running
        ? state.ExitCode
        : info.exitCode;
    const details = [`exit code ${exitCode ?? 'unknown'}`];
    if (state?.OOMKilled) details.push('killed: out of memory');
    if (state?.Error) details.push(`docker: ${state.Error}`);
    if (restarted) details.push(`its restart policy restarted it ${info.restartCount} time(s) so far`);
    const logs = await this.logs(info.id, { tail: this.failureLogLines, signal: opts.signal }).catch((err: Error) => `(logs unavailable: ${err.message})`);
    const shown = logs.trim() === '' ? '(no output)' : logs.trimEnd();
    return new Error(`container ${info.name} (component ${info.component}) exited right after start (${details.join('; ')}); last ${this.failureLogLines} log lines:\n${shown}`);
  }

  async inspect(id: string, opts: CallOptions = {}): Promise<ManagedContainer | undefined> {
    let raw: Docker.ContainerInspectInfo;
    try {
      raw = await this.call(`inspect container ${short(id)}`, opts, (abortSignal) => this.docker.getContainer(id).inspect({ abortSignal }));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw new Error(`cannot inspect container ${short(id)}: ${daemonMessage(err)}`, { cause: err });
    }
    const managed = toManagedContainer(raw);
    if (!managed) throw new Error(`container ${raw.Name.replace(/^\//, '')} (${short(raw.Id)}) is not managed by gantry (no io.gantry.managed label)`);
    return managed;
  }

  async list(filter: ContainerSelector, opts: CallOptions = {}): Promise<ManagedContainer[]> {
    let summaries: Docker.ContainerInfo[];
    try {
      summaries = await this.call('list containers', opts, (abortSignal) => this.docker.listContainers({ all: true, filters: labelFilter(filter), abortSignal }));
    } catch (err) {
      throw new Error(`cannot list containers: ${daemonMessage(err)}`, { cause: err });
    }
    const found = await Promise.all(summaries.filter((s) => matchesSelector(s.Labels, filter)).map((s) => this.inspect(s.Id, opts)));
    return found.filter((c): c is ManagedContainer => c !== undefined).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  }

  async listImages(repository: string, opts: CallOptions = {}): Promise<LocalImage[]> {
    let images: Docker.ImageInfo[];
    try {
      images = await this.call('list images', opts, (abortSignal) => this.docker.listImages({ abortSignal } as Docker.ListImagesOptions));
    } catch (err) {
      throw new Error(`cannot list images: ${daemonMessage(err)}`, { cause: err });
    }
    return images.map((i) => ({ id: i.Id, tags: (i.RepoTags ?? []).filter((t) => repositoryOf(t) === repository) })).filter((i) => i.tags.length > 0);
  }

  async imagesInUse(opts: CallOptions = {}): Promise<Set<string>> {
    try {
      const all = await this.call('list containers', opts, (abortSignal) => this.docker.listContainers({ all: true, abortSignal }));
      return new Set(all.map((c) => c.ImageID));
    } catch (err) {
      throw new Error(`cannot list containers: ${daemonMessage(err)}`, { cause: err });
    }
  }

  async removeImage(ref: string, opts: CallOptions = {}): Promise<void> {
    try {
      await this.call(`remove image ${ref}`, opts, (abortSignal) => this.docker.getImage(ref).remove({ abortSignal } as never) as unknown as Promise<unknown>);
    } catch (err) {
      if (isNotFound(err)) return;
      throw new Error(`cannot remove image ${ref}: ${daemonMessage(err)}`, { cause: err });
    }
  }

  exec(id: string, command: string[], timeoutMs: number, opts: CallOptions = {}): Promise<ExecResult> {
    return execInContainer(this.docker, id, command, timeoutMs, { signal: opts.signal, callTimeoutMs: this.callTimeoutMs, where: this.where });
  }

  async logs(id: string, opts: { tail?: number } & CallOptions = {}): Promise<string> {
    try {
      const data: unknown = await this.call(`read the logs of container ${short(id)}`, opts, (abortSignal) =>
        this.docker.getContainer(id).logs({ stdout: true, stderr: true, follow: false, ...(opts.tail !== undefined ? { tail: opts.tail } : {}), abortSignal }),
      );
      return demuxDockerOutput(Buffer.isBuffer(data) ? data : Buffer.from(String(data)));
    } catch (err) {
      throw new Error(`cannot read logs of container ${short(id)}: ${daemonMessage(err)}`, { cause: err });
    }
  }

  async signal(id: string, signal: string, opts: CallOptions = {}): Promise<void> {
    try {
      await this.call(`send ${signal} to container ${short(id)}`, opts, (abortSignal) => this.docker.getContainer(id).kill({ signal, abortSignal }));
    } catch (err) {
      throw new Error(`cannot send ${signal} to container ${short(id)}: ${daemonMessage(err)}`, { cause: err });
    }
  }

  async stop(id: string, timeoutMs: number, opts: CallOptions = {}): Promise<void> {
    const t = Math.ceil(Math.max(0, timeoutMs) / 1000);
    try {
      // Docker answers once the container is gone, up to t seconds after the stop signal.
      await this.call(`stop container ${short(id)} (stop timeout ${t} s)`, opts, (abortSignal) => this.docker.getContainer(id).stop({ t, abortSignal }), t * 1000 + this.callTimeoutMs);
    } catch (err) {
      const status = dockerStatus(err);
      if (status === 304 || status === 404) return; // already stopped / gone
      throw new Error(`cannot stop container ${short(id)}: ${daemonMessage(err)}`, { cause: err });
    }
  }

  async remove(id: string, opts: CallOptions = {}): Promise<void> {
    try {
      await this.call(`remove container ${short(id)}`, opts, (abortSignal) => this.docker.getContainer(id).remove({ force: true, v: true, abortSignal }));
    } catch (err) {
      const status = dockerStatus(err);
      if (status === 404) return;
      if (status === 409 && /already in progress/i.test(daemonMessage(err))) return;
      throw new Error(`cannot remove container ${short(id)}: ${daemonMessage(err)}`, { cause: err });
    }
  }
}
