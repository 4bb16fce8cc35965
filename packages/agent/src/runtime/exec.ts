import type Docker from 'dockerode';
import { DockerCallAbortedError, withDockerDeadline } from './docker-deadline';
import { daemonMessage } from './docker-errors';
import { DemuxCollector } from './docker-stream';

export interface ExecResult {
  exitCode: number;
  /** stdout and stderr interleaved, at most the last 64 KiB. */
  output: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface ExecCallOptions {
  /** Cancels the exec (the process may keep running in the container). */
  signal?: AbortSignal;
  /** Deadline of each daemon call (create, inspect) on its own, ms. Default 10 000. */
  callTimeoutMs?: number;
  /** Where docker is, for errors. */
  where?: string;
}

/**
 * Runs `command` in a running container and waits for it, at most `timeoutMs`. On timeout it
 * throws; Docker cannot kill an exec'd process, so the command may keep running in the
 * container (a check command should therefore bound its own run time too).
 */
export async function execInContainer(docker: Docker, id: string, command: string[], timeoutMs: number, opts: ExecCallOptions = {}): Promise<ExecResult> {
  const what = `exec ${JSON.stringify(command)} in container ${id.slice(0, 12)}`;
  if (command.length === 0) throw new Error(`${what}: empty command`);
  if (opts.signal?.aborted) throw new DockerCallAbortedError(what);
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onAbort = (): void => undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new Error(`${what} timed out after ${timeoutMs} ms (the process may still be running in the container)`));
    }, timeoutMs);
    onAbort = () => {
      abort.abort();
      reject(new DockerCallAbortedError(what));
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
  // Each daemon call on its own deadline too: a docker that does not answer is "docker unavailable", not a slow command.
  const call = <T>(op: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> =>
    withDockerDeadline({ op: `${op} (${what})`, timeoutMs: opts.callTimeoutMs ?? 10_000, where: opts.where ?? 'docker', signal: abort.signal }, run);

  const run = async (): Promise<ExecResult> => {
    let exec: Docker.Exec;
    let stream: NodeJS.ReadableStream;
    try {
      exec = await call('exec create', (abortSignal) =>
        docker.getContainer(id).exec({ Cmd: command, AttachStdout: true, AttachStderr: true, AttachStdin: false, Tty: false, abortSignal } as Docker.ExecCreateOptions),
      );
      stream = (await exec.start({ hijack: true, stdin: false, abortSignal: abort.signal })) as NodeJS.ReadableStream;
    } catch (err) {
      throw new Error(`${what} failed: ${daemonMessage(err)}`, { cause: err });
    }
    const collector = new DemuxCollector();
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (chunk: Buffer) => collector.push(chunk));
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', (err) => (abort.signal.aborted ? resolve() : reject(new Error(`${what}: output stream failed: ${err.message}`))));
      abort.signal.addEventListener('abort', () => (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.());
    });
    // The stream can end a moment before the daemon records the exit code.
    for (let attempt = 0; !abort.signal.aborted; attempt += 1) {
      const info = await call('exec inspect', (abortSignal) => exec.inspect({ abortSignal } as object));
      if (!info.Running && info.ExitCode !== null) return { exitCode: info.ExitCode, output: collector.text() };
      await sleep(Math.min(10 * 2 ** attempt, 200));
    }
    return { exitCode: -1, output: collector.text() }; // unreachable in practice: the deadline rejected first
  };

  try {
    return await Promise.race([run(), deadline]);
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
