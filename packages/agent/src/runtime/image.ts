import type Docker from 'dockerode';
import { inactivityTimer, withDockerDeadline } from './docker-deadline';
import { daemonMessage, isNotFound } from './docker-errors';
import { registryOfImage, type PullCredentials } from './registry-auth';

/** Progress of a pull, summed over its layers. Byte totals count only layers whose size is known yet. */
export interface PullProgress {
  layersDone: number;
  layersTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface EnsureImageOptions {
  /** 'missing' (default): pull only when the image is not present locally. 'always': pull anyway. */
  pull?: 'missing' | 'always';
  /** Called with aggregated progress while pulling, at most every `progressIntervalMs`, and once at the end. */
  onProgress?: (progress: PullProgress) => void;
  progressIntervalMs?: number;
  /** The pinned digest ("sha256:…"); defaults to the digest in `ref` when it is "repo@sha256:…". */
  digest?: string;
  /**
   * Credentials for the image's registry and where they came from (named in a refusal), asked for
   * only when a pull is needed; undefined, or no `auth` in them, pulls anonymously.
   */
  credentials?: PullCredentials | ((signal: AbortSignal | undefined) => PullCredentials | Promise<PullCredentials>);
  /** Abandons the pull (the daemon may finish it in the background). */
  signal?: AbortSignal;
  /**
   * Deadlines: each daemon call (inspect, the pull's start) within `callTimeoutMs`; a pull fails
   * when its stream is silent for `inactivityMs` (a pull may take long, but not in silence).
   * Defaults 10 000 and 120 000 ms.
   */
  deadlines?: { callTimeoutMs?: number; inactivityMs?: number; where?: string };
}

export interface ImageInfo {
  /** The local image id ("sha256:…", the config digest). */
  id: string;
  /** "repo@sha256:…" for every repository the image was pulled from or pushed to. */
  repoDigests: string[];
  /** The manifest digest of `ref`'s repository when known (the pinned one when pinned). */
  digest?: string;
  /** True when this call pulled the image. */
  pulled: boolean;
}

/** The repository of a reference: "host:5000/a/b:tag" → "host:5000/a/b", "a@sha256:…" → "a". */
export function repositoryOf(ref: string): string {
  const at = ref.indexOf('@');
  if (at >= 0) return ref.slice(0, at);
  const colon = ref.lastIndexOf(':');
  return colon > ref.lastIndexOf('/') ? ref.slice(0, colon) : ref;
}

/** The digest a reference pins, if any. */
export function digestOf(ref: string): string | undefined {
  const at = ref.indexOf('@');
  return at >= 0 ? ref.slice(at + 1) : undefined;
}

/** One JSON line of the daemon's pull output. */
interface PullEvent {
  id?: string;
  status?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
}

/** Sums the per-layer lines of a pull into one {@link PullProgress}. */
export class PullProgressTracker {
  private readonly layers = new Map<string, { done: boolean; current: number; total: number }>();
  /** The manifest digest from the "Digest: sha256:…" line. */
  digest?: string;

  /** Feeds one event; returns true when it changed the progress. */
  update(event: PullEvent): boolean {
    const status = event.status ?? '';
    const digest = /^Digest: (sha256:[a-f0-9]{64})/.exec(status);
    if (digest) this.digest = digest[1];
    // Layer lines have a 12-hex id; the others ("Pulling from …", "Digest: …") name the tag.
    if (!event.id || !/^[a-f0-9]{12}$/.test(event.id)) return false;
    const layer = this.layers.get(event.id) ?? { done: false, current: 0, total: 0 };
    this.layers.set(event.id, layer);
    const detail = event.progressDetail ?? {};
    if (status === 'Downloading' && detail.total) {
      layer.total = detail.total;
      layer.current = detail.current ?? layer.current;
    } else if (status === 'Download complete' || status === 'Verifying Checksum') {
      layer.current = layer.total;
    } else if (status === 'Pull complete' || status === 'Already exists') {
      layer.done = true;
      layer.current = layer.total;
    }
    return true;
  }

  get progress(): PullProgress {
    const p: PullProgress = { layersDone: 0, layersTotal: this.layers.size, bytesDone: 0, bytesTotal: 0 };
    for (const layer of this.layers.values()) {
      if (layer.done) p.layersDone += 1;
      p.bytesDone += layer.current;
      p.bytesTotal += layer.total;
    }
    return p;
  }
}

/**
 * A pull error put in words that say what is wrong, for `ref` in its registry; a refusal names the
 * credentials used (`credentialSource`, never a secret).
 */
export function describePullError(ref: string, message: string, credentialSource?: string): Error {
  const registry = registryOfImage(ref);
  const reason = message.split(': ').pop()?.trim() || message;
  if (/manifest unknown|name unknown|not found|does not exist/i.test(message)) {
    return new Error(`image ${ref} not found in registry ${registry} (${reason})`, { cause: message });
  }
  if (/unauthorized|authentication required|no basic auth credentials|denied|forbidden/i.test(message)) {
    const used = credentialSource ? ` (credentials: ${credentialSource})` : '';
    return new Error(`registry ${registry} refused the pull of ${ref} as unauthorized${used}: ${message}`, { cause: message });
  }
  if (/connection refused|no such host|i\/o timeout|dial tcp|server gave HTTP response to HTTPS/i.test(message)) {
    return new Error(`registry ${registry} unreachable while pulling ${ref}: ${message}`, { cause: message });
  }
  return new Error(`pull of ${ref} from ${registry} failed: ${message}`, { cause: message });
}

async function inspectImage(docker: Docker, ref: string, opts: EnsureImageOptions): Promise<Docker.ImageInspectInfo | undefined> {
  try {
    const timeoutMs = opts.deadlines?.callTimeoutMs ?? 10_000;
    return await withDockerDeadline({ op: `inspect image ${ref}`, timeoutMs, where: opts.deadlines?.where ?? 'docker', signal: opts.signal }, (abortSignal) =>
      docker.getImage(ref).inspect({ abortSignal } as Docker.ImageInspectOptions),
    );
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw new Error(`cannot inspect image ${ref}: ${daemonMessage(err)}`, { cause: err });
  }
}

/** Pulls `ref`, following the stream to its end; errors reported inside the stream fail it. */
async function pull(docker: Docker, ref: string, opts: EnsureImageOptions): Promise<string | undefined> {
  const tracker = new PullProgressTracker();
  const interval = opts.progressIntervalMs ?? 250;
  let lastEmit = 0;
  const emit = (force: boolean): void => {
    if (!opts.onProgress) return;
    const now = Date.now();
    if (!force && now - lastEmit < interval) return;
    lastEmit = now;
    opts.onProgress(tracker.progress);
  };

  let credentials: PullCredentials | undefined;
  try {
    credentials = typeof opts.credentials === 'function' ? await opts.credentials(opts.signal) : opts.credentials;
  } catch (err) {
    throw new Error(`cannot pull ${ref}: ${(err as Error).message}`, { cause: err });
  }
  const pullError = (message: string) => describePullError(ref, message, credentials?.source);
  const where = opts.deadlines?.where ?? 'docker';
  const inactivityMs = opts.deadlines?.inactivityMs ?? 120_000;
  // One signal for the whole pull: the caller's, or the stream falling silent.
  const abort = new AbortController();
  const onAbort = () => abort.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let stalled = false;
  const watchdog = inactivityTimer(inactivityMs, () => {
    stalled = true;
    abort.abort();
  });
  const stalledError = () =>
    new Error(`pull of ${ref} made no progress for ${inactivityMs} ms (docker at ${where}, or registry ${registryOfImage(ref)}, stopped answering)`);
  try {
    const pullOptions: Record<string, unknown> = {};
    if (credentials?.auth) pullOptions.authconfig = credentials.auth;
    let stream: NodeJS.ReadableStream;
    try {
      // dockerode resolves here when the pull STARTS (docker answered); the outcome is in the stream.
      stream = await withDockerDeadline({ op: `pull ${ref}`, timeoutMs: opts.deadlines?.callTimeoutMs ?? 10_000, where, signal: abort.signal }, (abortSignal) =>
        docker.pull(ref, { ...pullOptions, abortSignal }) as Promise<NodeJS.ReadableStream>,
      );
    } catch (err) {
      if (stalled) throw stalledError();
      if (opts.signal?.aborted) throw new Error(`pull of ${ref} aborted`, { cause: err });
      if ((err as Error).name === 'DockerUnavailableError') throw err;
      throw pullError(daemonMessage(err));
    }
    watchdog.touch();

    await new Promise<void>((resolve, reject) => {
      let streamError: string | undefined;
      // The request was made with the pull's signal: aborting it ends the stream with an error.
      abort.signal.addEventListener('abort', () => (stream as NodeJS.ReadableStream & { destroy?: (e?: Error) => void }).destroy?.(), { once: true });
      docker.modem.followProgress(
        stream,
        (err: Error | null) => {
          if (stalled) return reject(stalledError());
          if (opts.signal?.aborted) return reject(new Error(`pull of ${ref} aborted`));
          if (err) return reject(pullError(err.message));
          if (streamError !== undefined) return reject(pullError(streamError));
          resolve();
        },
        (event: PullEvent) => {
          watchdog.touch();
          if (event.error || event.errorDetail) {
            streamError ??= event.errorDetail?.message ?? event.error ?? 'unknown error';
            return;
          }
          if (tracker.update(event)) emit(false);
        },
      );
    });
  } finally {
    watchdog.stop();
    opts.signal?.removeEventListener('abort', onAbort);
  }
  emit(true);
  return tracker.digest;
}

function checkPinnedDigest(ref: string, image: Docker.ImageInspectInfo, digest: string): void {
  const digests = image.RepoDigests ?? [];
  if (!digests.some((d) => d.endsWith(`@${digest}`))) {
    const have = digests.length > 0 ? digests.join(', ') : 'none (built locally, never pushed or pulled)';
    throw new Error(`image ${ref} (${image.Id}) does not match the pinned digest ${digest}: its repo digests are ${have}`);
  }
}

/**
 * Makes `ref` present locally: pulls it when missing (or always, with `pull: 'always'`), then
 * checks it against the pinned digest if there is one.
 */
export async function ensureImage(docker: Docker, ref: string, opts: EnsureImageOptions = {}): Promise<ImageInfo> {
  const policy = opts.pull ?? 'missing';
  let image = policy === 'missing' ? await inspectImage(docker, ref, opts) : undefined;
  let pulled = false;
  let pulledDigest: string | undefined;
  if (!image) {
    pulledDigest = await pull(docker, ref, opts);
    pulled = true;
    image = await inspectImage(docker, ref, opts);
    if (!image) throw new Error(`pull of ${ref} finished but the image is not present locally`);
  }

  const pinned = opts.digest ?? digestOf(ref);
  if (pinned) checkPinnedDigest(ref, image, pinned);

  const repository = repositoryOf(ref);
  const ownDigest = image.RepoDigests?.find((d) => d.startsWith(`${repository}@`))?.slice(repository.length + 1);
  return { id: image.Id, repoDigests: image.RepoDigests ?? [], digest: pinned ?? pulledDigest ?? ownDigest, pulled };
}
