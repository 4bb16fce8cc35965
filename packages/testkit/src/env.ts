import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where the local services started by scripts/services.sh can be reached. */
export interface ServiceEnv {
  dockerHost: string;
  etcdEndpoints: string[];
  etcdClusterEndpoints: string[];
  registry: string;
  /** The password-protected registry (`services.sh up registry-auth`): htpasswd user, password kept in `passwordFile`. */
  registryAuth?: { address: string; user: string; passwordFile: string };
  haproxyBin: string;
  home: string;
}

export const devHome = (): string => process.env.GANTRY_DEV_HOME ?? '/tmp/gantry-dev';

/**
 * Reads the env file that `scripts/services.sh up` writes. Fails with the command to run when the
 * services were never started, rather than letting a test time out against nothing.
 */
export function serviceEnv(): ServiceEnv {
  const file = join(devHome(), 'env.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new Error(`${file} is missing: start the local services first with \`npm run services -- up\``);
  }
  return JSON.parse(text) as ServiceEnv;
}

/** Socket path of a `unix://` DOCKER_HOST, for dockerode's `socketPath`. */
export function dockerSocketPath(env: ServiceEnv = serviceEnv()): string {
  if (!env.dockerHost.startsWith('unix://')) throw new Error(`unsupported DOCKER_HOST ${env.dockerHost}: expected unix://PATH`);
  return env.dockerHost.slice('unix://'.length);
}
