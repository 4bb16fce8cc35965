import { EngineError } from '@gantry/agent';
import { EtcdAccessDeniedError } from '@gantry/etcd';
import { CliError } from './cli-error';
import { exitCodeFor, ExitCode } from './exit-codes';
import { Reporter } from './reporter';

/**
 * Runs one verb's work with a reporter, and turns what it throws into one clear message and an
 * exit code. SIGINT/SIGTERM abort the work through `signal`; the verb decides what is safe to stop.
 */
export async function runVerb(json: boolean, work: (reporter: Reporter, signal: AbortSignal) => Promise<void>): Promise<void> {
  const reporter = new Reporter(json);
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await work(reporter, abort.signal);
  } catch (err) {
    if (err instanceof CliError) {
      reporter.failure(err.message, err.details);
      process.exitCode = err.exitCode;
    } else if (err instanceof EngineError) {
      reporter.failure(err.message, { code: err.code, ...err.details });
      if (!json && typeof err.details.logs === 'string' && err.details.logs) process.stderr.write(`last log lines of the failed container:\n${err.details.logs}\n`);
      process.exitCode = exitCodeFor(err.code);
    } else if (err instanceof EtcdAccessDeniedError) {
      reporter.failure(err.message, { identity: err.identity, operation: err.operation, keys: err.keys });
      process.exitCode = ExitCode.denied;
    } else {
      reporter.failure(err instanceof Error ? err.message : String(err));
      process.exitCode = ExitCode.unavailable;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
