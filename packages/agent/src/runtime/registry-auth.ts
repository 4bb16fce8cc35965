import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Docker Hub's canonical name and the key `docker login` writes for it. */
export const DOCKER_HUB = 'docker.io';
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/** The parts of a Docker CLI config.json that matter here. */
export interface DockerConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string } | undefined>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** What dockerode sends as X-Registry-Auth. */
export interface RegistryCredentials {
  username?: string;
  password?: string;
  identitytoken?: string;
  serveraddress: string;
}

/**
 * The registry an image reference points at, as Docker decides it: the first path component when
 * it has a "." or ":" or is "localhost", else Docker Hub.
 */
export function registryOfImage(ref: string): string {
  const slash = ref.indexOf('/');
  if (slash < 0) return DOCKER_HUB;
  const first = ref.slice(0, slash);
  if (first.includes('.') || first.includes(':') || first === 'localhost') {
    return DOCKER_HUB_ALIASES.has(first) ? DOCKER_HUB : first;
  }
  return DOCKER_HUB;
}

/** "https://host:port/v1/" → "host:port"; Docker Hub's aliases → "docker.io". */
export function normalizeRegistry(key: string): string {
  const host = key
    .trim()
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/.*$/, '')
    .toLowerCase();
  return DOCKER_HUB_ALIASES.has(host) ? DOCKER_HUB : host;
}

/**
 * Credentials for `registry` from a parsed config, or undefined for anonymous access. Reads
 * `auths[registry].auth` (base64 "user:pass"), else `username`/`password`, else `identitytoken`.
 * Credential helpers are not supported: when one is configured for this registry (or the global
 * `credsStore` holds its login) this throws, naming the helper, rather than pulling anonymously.
 */
export function resolveRegistryCredentials(config: DockerConfigFile, registry: string): RegistryCredentials | undefined {
  const wanted = normalizeRegistry(registry);
  const serveraddress = wanted === DOCKER_HUB ? DOCKER_HUB_AUTH_KEY : wanted;
  const entryKey = Object.keys(config.auths ?? {}).find((key) => normalizeRegistry(key) === wanted);
  const entry = entryKey !== undefined ? config.auths?.[entryKey] : undefined;

  if (entry?.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw new Error(`docker config: auths["${entryKey}"].auth is not base64 of "user:password"`);
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), serveraddress };
  }
  if (entry?.username !== undefined || entry?.password !== undefined) {
    return { username: entry.username ?? '', password: entry.password ?? '', serveraddress };
  }
  if (entry?.identitytoken) return { identitytoken: entry.identitytoken, serveraddress };

  const helperKey = Object.keys(config.credHelpers ?? {}).find((key) => normalizeRegistry(key) === wanted);
  if (helperKey !== undefined) {
    throw new Error(`credential helper "${config.credHelpers?.[helperKey]}" (credHelpers["${helperKey}"]) not supported; put credentials for ${registry} in auths`);
  }
  // With a global credsStore, `docker login` leaves an empty auths entry as a marker: the login
  // exists but lives in the store, which we cannot read. No entry at all means no login: anonymous.
  if (config.credsStore && entryKey !== undefined) {
    throw new Error(`credential helper "${config.credsStore}" (credsStore) not supported; put credentials for ${registry} in auths`);
  }
  return undefined;
}

/** `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  return env.DOCKER_CONFIG ? join(env.DOCKER_CONFIG, 'config.json') : join(home, '.docker', 'config.json');
}

/** The user's Docker config, or an empty one when the file does not exist. */
export function readDockerConfig(path: string = dockerConfigPath()): DockerConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new Error(`cannot read docker config ${path}: ${(err as Error).message}`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed as DockerConfigFile;
  } catch (err) {
    throw new Error(`docker config ${path} is not valid: ${(err as Error).message}`);
  }
}

/** Credentials for pulling `imageRef`, read from the user's Docker config; undefined = anonymous. */
export function credentialsForImage(imageRef: string, configPath: string = dockerConfigPath()): RegistryCredentials | undefined {
  return resolveRegistryCredentials(readDockerConfig(configPath), registryOfImage(imageRef));
}
