import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { serviceEnv } from './env';

/** Variants of the demo app that docker/build-images.sh builds. */
export type DemoVersion = 'v1' | 'v2' | 'broken' | 'deaf';

/**
 * Reference of a demo-app image: the local tag, or with `registry` the copy pushed to the local
 * registry (for tests where an agent pulls the image itself).
 */
export function demoImage(version: DemoVersion, opts: { registry?: boolean } = {}): string {
  const name = `gantry/demo-app:${version}`;
  return opts.registry ? `${serviceEnv().registry}/${name}` : name;
}

/**
 * The monorepo root: the nearest directory up from here whose package.json declares workspaces.
 * Walking up, rather than a fixed `../..`, keeps this right from both src (jest) and dist.
 */
export function repoRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && 'workspaces' in JSON.parse(readFileSync(manifest, 'utf8'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json with "workspaces" above ${from}`);
  }
}

let built: Promise<void> | undefined;

/**
 * Builds and pushes the demo images (docker/build-images.sh) once per process. The script is
 * idempotent and takes about a second when nothing changed, so separate jest workers (each with
 * its own module registry) may each run it; it serialises concurrent runs with a lock.
 */
export function ensureDemoImages(): Promise<void> {
  built ??= runBuildScript().catch((err: unknown) => {
    built = undefined; // let a later call retry, e.g. once the services are up
    throw err;
  });
  return built;
}

function runBuildScript(): Promise<void> {
  const script = join(repoRoot(), 'docker', 'build-images.sh');
  const env = { ...process.env, DOCKER_HOST: serviceEnv().dockerHost };
  return new Promise((resolve, reject) => {
    execFile('bash', [script], { env, maxBuffer: 16 * 1024 * 1024 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`${script} failed (${err.code ?? err.signal}):\n${stderr.trim() || err.message}`));
      else resolve();
    });
  });
}
