import type Docker from 'dockerode';
import { daemonMessage } from './docker-errors';
import { DemuxCollector } from './docker-stream';

export interface ExecResult {
  exitCode: number;
  /** stdout and stderr interleaved, at most the last 64 KiB. */
  output: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `command` in a running container and waits for it, at most `timeoutMs`. On timeout it
 * throws; Docker cannot kill an exec'd process, so the command may keep running in the
 * container (a check command should therefore bound its own run time too).
 */
export async function execInContainer(docker: Docker, id: string, command: string[], timeoutMs: number): Promise<ExecResult> {
  const what = `exec ${JSON.stringify(command)} in container ${id.slice(0, 12)}`;
  if (command.length === 0) throw new Error(`${what}: empty command`);
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new Error(`${what} timed out after ${timeoutMs} ms (the process may still be running in the container)`));
    }, timeoutMs);
  });

  const run = async (): Promise<ExecResult> => {
    let exec: Docker.Exec;
    let stream: NodeJS.ReadableStream;
    try {
      exec = await docker.getContainer(id).exec({ Cmd: command, AttachStdout: true, AttachStderr: true, AttachStdin: false, Tty: false });
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
      const info = await exec.inspect();
      if (!info.Running && info.ExitCode !== null) return { exitCode: info.ExitCode, output: collector.text() };
      await sleep(Math.min(10 * 2 ** attempt, 200));
    }
    return { exitCode: -1, output: collector.text() }; // unreachable in practice: the deadline rejected first
  };

  try {
    return await Promise.race([run(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
