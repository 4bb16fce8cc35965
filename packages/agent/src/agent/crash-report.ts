import { writeSync } from 'node:fs';

/** The exit code after an uncaught exception or unhandled rejection: the agent's state is unknown (EX_SOFTWARE). */
export const CRASH_EXIT_CODE = 70;

/**
 * The last owner of every async path: an exception or rejection nothing else caught is logged as
 * one JSON line with its stack — written synchronously, so it is not lost with the process — and
 * the agent exits. Nothing it acts on is in memory only (etcd, Docker and HAProxy hold it), so
 * a restart converges again; carrying on in an unknown state could act on a guess.
 */
export function installCrashHandlers(meta: { host: string; project?: string }): void {
  const report = (event: 'uncaught exception' | 'unhandled rejection', err: unknown) => {
    const error = err instanceof Error ? err : new Error(String(err));
    const line = JSON.stringify({ level: 'error', message: `gantryd: ${event}; exiting`, event: 'crash', error: error.message, stack: error.stack, ...meta, timestamp: new Date().toISOString() });
    try {
      writeSync(2, `${line}\n`);
    } finally {
      process.exit(CRASH_EXIT_CODE);
    }
  };
  process.on('uncaughtException', (err) => report('uncaught exception', err));
  process.on('unhandledRejection', (reason) => report('unhandled rejection', reason));
}
