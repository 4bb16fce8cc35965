import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '@gantry/testkit';

/** The built `gantry` binary, as an operator runs it (build with `npx tsc -b` first). */
export const gantryBin = join(repoRoot(), 'packages/cli/bin/gantry.js');

/** The environment of a CLI a test runs: the GANTRY_* settings of whoever runs the tests must not leak in. */
export const cliEnv: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('GANTRY_')));

/** Runs `gantry ARGS…` to the end (blocking this process: no load or watch of the test runs meanwhile). */
export function runGantry(args: string[], timeoutMs = 60_000): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [gantryBin, ...args], { encoding: 'utf8', env: cliEnv, timeout: timeoutMs });
}

/** Runs `gantry ARGS…` without blocking this process: load and watches go on while it runs. */
export function runGantryAsync(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [gantryBin, ...args], { env: cliEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

/** The last JSON line a verb printed (its result with --json). */
export const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!);
