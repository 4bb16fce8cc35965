import { execFile } from 'node:child_process';
import { serviceEnv } from '@gantry/testkit';

/**
 * The `docker` command line against the local dockerd, as a deploy script would call it. The peers
 * use it rather than Gantry's runtime so that they share none of Gantry's code.
 */
export function docker(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('docker', args, { env: { ...process.env, DOCKER_HOST: serviceEnv().dockerHost }, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`docker ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout.trim());
    });
  });
}

/** Removes (forcefully) every container carrying `label`; for cleanup, so it never throws. */
export async function removeLabelled(label: string): Promise<void> {
  const ids = await docker('ps', '-aq', '--filter', `label=${label}`).catch(() => '');
  if (ids) await docker('rm', '-f', ...ids.split('\n')).catch((err: Error) => console.error(`cleanup: ${err.message}`));
}

/** The host port Docker published container port `containerPort` of `id` on (`docker port`). */
export async function publishedPort(id: string, containerPort: number): Promise<number> {
  const line = (await docker('port', id, `${containerPort}/tcp`)).split('\n')[0];
  const port = Number(line.slice(line.lastIndexOf(':') + 1));
  if (!Number.isInteger(port) || port <= 0) throw new Error(`docker port ${id} ${containerPort}/tcp said ${JSON.stringify(line)}`);
  return port;
}
