import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { getFromHelper, helperProgram, type RunHelper } from './credential-helper';

/** Docker Hub's canonical name and the key `docker login` writes for it. */
export const DOCKER_HUB = 'docker.io';
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/** One login in a Docker CLI config's `auths`, as `docker login` writes it (or by hand). */
export interface DockerAuthsEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

/** The parts of a Docker CLI config.json that matter here. */
export interface DockerConfigFile {
  auths?: Record<string, DockerAuthsEntry | undefined>;
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
 * Where the credentials for a registry come from, as the Docker CLI decides it: a helper named in
 * `credHelpers` for that registry, else the global `credsStore` helper, else the `auths` entry in
 * the file, else none (anonymous). With a helper, `auths` is not read for that registry (`docker
 * login` leaves only an empty marker there). Pure.
 */
export type CredentialSource =
  | { kind: 'auths'; key: string; entry: DockerAuthsEntry }
  | { kind: 'helper'; helper: string; setting: string }
  | { kind: 'none' };

export function credentialSourceFor(config: DockerConfigFile, registry: string): CredentialSource {
  const wanted = normalizeRegistry(registry);
  const helperKey = Object.keys(config.credHelpers ?? {}).find((key) => normalizeRegistry(key) === wanted);
  if (helperKey !== undefined) return { kind: 'helper', helper: config.credHelpers![helperKey], setting: `credHelpers["${helperKey}"]` };
  if (config.credsStore) return { kind: 'helper', helper: config.credsStore, setting: 'credsStore' };
  const key = Object.keys(config.auths ?? {}).find((k) => normalizeRegistry(k) === wanted);
  const entry = key !== undefined ? config.auths?.[key] : undefined;
  return key !== undefined && entry ? { kind: 'auths', key, entry } : { kind: 'none' };
}

/** The key Docker stores and asks for a registry's login under ("https://index.docker.io/v1/" for Docker Hub). */
export const serverAddressOf = (registry: string): string => (normalizeRegistry(registry) === DOCKER_HUB ? DOCKER_HUB_AUTH_KEY : normalizeRegistry(registry));

/**
 * The credentials in an `auths` entry: `auth` (base64 "user:pass"), else `username`/`password`,
 * else `identitytoken`; undefined when it holds none (an empty marker). Pure.
 */
export function credentialsFromAuthsEntry(key: string, entry: DockerAuthsEntry, serveraddress: string): RegistryCredentials | undefined {
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw new Error(`docker config: auths["${key}"].auth is not base64 of "user:password"`);
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), serveraddress };
  }
  if (entry.username !== undefined || entry.password !== undefined) return { username: entry.username ?? '', password: entry.password ?? '', serveraddress };
  if (entry.identitytoken) return { identitytoken: entry.identitytoken, serveraddress };
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

/** Credentials for one pull, and where they came from in words that never include the secret. */
export interface PullCredentials {
  /** undefined: anonymous. */
  auth?: RegistryCredentials;
  /** "user gantry from /root/.docker/config.json auths[\"quay.io\"]", "anonymous: no credentials for quay.io in …". */
  source: string;
}

export interface CredentialLookupOptions {
  /** Deadline of a credential helper's run (ms). Default 10 000. */
  helperTimeoutMs?: number;
  signal?: AbortSignal;
  /** Runs a helper; the real process by default (tests pass their own). */
  runHelper?: RunHelper;
}

const who = (c: RegistryCredentials): string => (c.identitytoken !== undefined ? 'an identity token' : `user ${c.username}`);

/**
 * Credentials for pulling `imageRef`, from the Docker config at `configPath` (read anew at every
 * call, so a changed login needs no restart): its `auths`, or the credential helper it names.
 */
export async function credentialsForImage(imageRef: string, configPath: string = dockerConfigPath(), opts: CredentialLookupOptions = {}): Promise<PullCredentials> {
  const registry = registryOfImage(imageRef);
  const serveraddress = serverAddressOf(registry);
  const source = credentialSourceFor(readDockerConfig(configPath), registry);
  if (source.kind === 'none') return { source: `anonymous: no credentials for ${registry} in ${configPath}` };
  if (source.kind === 'auths') {
    const auth = credentialsFromAuthsEntry(source.key, source.entry, serveraddress);
    const where = `${configPath} auths["${source.key}"]`;
    return auth ? { auth, source: `${who(auth)} from ${where}` } : { source: `anonymous: ${where} holds no credentials` };
  }
  const helper = `${helperProgram(source.helper)} (${source.setting} in ${configPath})`;
  const answer = await getFromHelper(serveraddress, { helper: source.helper, registry, setting: `${source.setting} in ${configPath}`, timeoutMs: opts.helperTimeoutMs ?? 10_000 }, { run: opts.runHelper, signal: opts.signal });
  if (answer.kind === 'not-found') return { source: `anonymous: ${helper} has no credentials for ${registry}` };
  const auth: RegistryCredentials = { ...(answer.identitytoken !== undefined ? { identitytoken: answer.identitytoken } : { username: answer.username, password: answer.password }), serveraddress };
  return { auth, source: `${who(auth)} from ${helper}` };
}
