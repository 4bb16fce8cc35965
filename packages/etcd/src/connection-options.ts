import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';

/**
 * How to reach etcd, shared by gantryd and the gantry CLI. Each setting comes from, in order of
 * precedence: a command-line flag, an environment variable, a JSON config file, or the default.
 *
 * | setting   | flag              | environment           | config file key |
 * |-----------|-------------------|-----------------------|-----------------|
 * | endpoints | --etcd-endpoints  | GANTRY_ETCD_ENDPOINTS | "endpoints"     |
 * | CA file   | --etcd-ca         | GANTRY_ETCD_CA        | "ca"            |
 * | cert file | --etcd-cert       | GANTRY_ETCD_CERT      | "cert"          |
 * | key file  | --etcd-key        | GANTRY_ETCD_KEY       | "key"           |
 * | user      | --etcd-user       | GANTRY_ETCD_USER      | "user"          |
 * | password  | --etcd-password   | GANTRY_ETCD_PASSWORD  | "password"      |
 * | the file  | --etcd-config     | GANTRY_ETCD_CONFIG    |                 |
 */
export const DEFAULT_ETCD_ENDPOINT = 'http://127.0.0.1:2379';

/** TLS material, as file paths (read by `connectEtcd`, never kept in these options). */
export interface EtcdTlsFiles {
  /** CA bundle that signs the etcd server certificates; the system roots when absent. */
  caFile?: string;
  /** Client certificate (with `keyFile`) for etcd's client-cert auth. */
  certFile?: string;
  keyFile?: string;
}

export interface EtcdAuth {
  user: string;
  /** Non-enumerable: `JSON.stringify` and `console.log` of the options never show it. */
  readonly password: string;
}

export type EtcdSetting = 'endpoints' | 'ca' | 'cert' | 'key' | 'user' | 'password';

export interface EtcdConnectionOptions {
  /** Normalised `http(s)://host:port` URLs, all of one scheme. */
  endpoints: string[];
  tls?: EtcdTlsFiles;
  auth?: EtcdAuth;
  /** Where each setting that is set came from: `--etcd-ca`, `GANTRY_ETCD_CA`, `/etc/gantry/etcd.json ("ca")` or `default`. */
  sources: Partial<Record<EtcdSetting, string>>;
}

const settings: Record<EtcdSetting | 'config', { flag: string; env: string; describe: string }> = {
  endpoints: { flag: 'etcd-endpoints', env: 'GANTRY_ETCD_ENDPOINTS', describe: `etcd endpoints, comma-separated (default ${DEFAULT_ETCD_ENDPOINT})` },
  ca: { flag: 'etcd-ca', env: 'GANTRY_ETCD_CA', describe: 'CA certificate file for etcd over TLS' },
  cert: { flag: 'etcd-cert', env: 'GANTRY_ETCD_CERT', describe: 'client certificate file for etcd (with --etcd-key)' },
  key: { flag: 'etcd-key', env: 'GANTRY_ETCD_KEY', describe: 'client private key file for etcd (with --etcd-cert)' },
  user: { flag: 'etcd-user', env: 'GANTRY_ETCD_USER', describe: 'etcd user (with a password)' },
  password: { flag: 'etcd-password', env: 'GANTRY_ETCD_PASSWORD', describe: 'etcd password; prefer GANTRY_ETCD_PASSWORD or the config file, flags show in ps' },
  config: { flag: 'etcd-config', env: 'GANTRY_ETCD_CONFIG', describe: 'JSON file with any of: endpoints, ca, cert, key, user, password' },
};

type OptionDefinition = { readonly type: 'string'; readonly describe: string };
/**
 * The etcd flags as yargs option definitions (no yargs import needed): `yargs.options(etcdOptionDefinitions)`.
 * None has a default on purpose — a yargs default would hide the environment and the config file.
 */
export const etcdOptionDefinitions = Object.freeze(
  Object.fromEntries(Object.values(settings).map((s) => [s.flag, Object.freeze({ type: 'string', describe: `${s.describe} [env ${s.env}]` })])),
) as Readonly<Record<'etcd-endpoints' | 'etcd-ca' | 'etcd-cert' | 'etcd-key' | 'etcd-user' | 'etcd-password' | 'etcd-config', OptionDefinition>>;

/** A setting's problem, named by where the bad value came from. */
export class EtcdConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid etcd connection settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'EtcdConfigError';
  }
}

export interface ResolveConnectionInput {
  /** Parsed flags (yargs argv works as is): `{ 'etcd-endpoints': '...' }`; camelCase keys are accepted too. */
  flags?: Record<string, unknown>;
  /** Default: `process.env`. Empty variables count as unset. */
  env?: Record<string, string | undefined>;
  /** Default: `fs.readFileSync(path, 'utf8')`. */
  readFile?: (path: string) => string;
}

const configFileSchema = z.strictObject({
  endpoints: z.union([z.string(), z.array(z.string()).min(1, 'needs at least one endpoint')]).optional(),
  ca: z.string().min(1, 'is empty').optional(),
  cert: z.string().min(1, 'is empty').optional(),
  key: z.string().min(1, 'is empty').optional(),
  user: z.string().min(1, 'is empty').optional(),
  password: z.string().min(1, 'is empty').optional(),
});
type ConfigFile = z.infer<typeof configFileSchema>;

/** One endpoint: `http(s)://host:port`, nothing else. */
const endpointSchema = z.string().superRefine((raw, ctx) => {
  const text = redactUserinfo(raw);
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) && /^[^\s/]+:\d+$/.test(raw)) {
    ctx.addIssue({ code: 'custom', message: `"${text}" has no scheme: write http://${text} (or https://)` });
    return;
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a URL (expected http://host:port or https://host:port)` });
    return;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    ctx.addIssue({ code: 'custom', message: `"${text}" has scheme "${url.protocol.slice(0, -1)}"; etcd endpoints use http or https` });
    return;
  }
  const problems: string[] = [];
  if (!url.hostname) problems.push('has no host');
  if (!url.port) problems.push('needs an explicit port (etcd listens on 2379 by default)');
  if (url.username || url.password) problems.push('must not carry credentials (use the etcd user and password settings)');
  if ((url.pathname && url.pathname !== '/') || url.search || url.hash) problems.push('must not have a path, query or fragment');
  for (const problem of problems) ctx.addIssue({ code: 'custom', message: `"${text}" ${problem}` });
});

const flagValueSchema = z.string({ error: 'must be given once, as text' }).min(1, 'is empty');

interface Picked {
  value: string | string[];
  source: string;
  /** For relative file paths given in the config file: its directory. */
  baseDir?: string;
}

/**
 * Resolves the connection settings from flags, environment and config file (in that precedence),
 * validating every value and naming its source in errors. Throws {@link EtcdConfigError} with all
 * problems at once.
 */
export function resolveConnectionOptions(input: ResolveConnectionInput = {}): EtcdConnectionOptions {
  const flags = input.flags ?? {};
  const env = input.env ?? process.env;
  const readFile = input.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const problems: string[] = [];

  const fromFlag = (name: EtcdSetting | 'config'): Picked | undefined => {
    const flag = settings[name].flag;
    const raw = flags[flag] !== undefined ? flags[flag] : flags[camelCase(flag)];
    if (raw === undefined) return undefined;
    const parsed = flagValueSchema.safeParse(raw);
    if (!parsed.success) {
      problems.push(`--${flag}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      return undefined;
    }
    return { value: parsed.data, source: `--${flag}` };
  };
  const fromEnv = (name: EtcdSetting | 'config'): Picked | undefined => {
    const variable = settings[name].env;
    const raw = env[variable];
    return raw === undefined || raw === '' ? undefined : { value: raw, source: variable };
  };

  // The config file, when one is named.
  const configPath = fromFlag('config') ?? fromEnv('config');
  let file: ConfigFile = {};
  let filePath: string | undefined;
  if (configPath) {
    filePath = resolve(configPath.value as string);
    file = loadConfigFile(filePath, configPath.source, readFile, problems);
  }
  const fromFile = (name: EtcdSetting): Picked | undefined => {
    const value = file[name];
    return value === undefined ? undefined : { value, source: `${filePath} ("${name}")`, baseDir: dirname(filePath!) };
  };

  const pick = (name: EtcdSetting): Picked | undefined => fromFlag(name) ?? fromEnv(name) ?? fromFile(name);
  const sources: EtcdConnectionOptions['sources'] = {};

  // Endpoints.
  const endpointsPicked = pick('endpoints') ?? { value: DEFAULT_ETCD_ENDPOINT, source: 'default' };
  sources.endpoints = endpointsPicked.source;
  const endpointList = (Array.isArray(endpointsPicked.value) ? endpointsPicked.value : endpointsPicked.value.split(','))
    .map((e) => e.trim())
    .filter((e) => e !== '');
  const endpoints: string[] = [];
  if (endpointList.length === 0) problems.push(`${endpointsPicked.source}: no endpoint given`);
  endpointList.forEach((text, i) => {
    const where = Array.isArray(endpointsPicked.value) ? `${endpointsPicked.source}[${i}]` : endpointsPicked.source;
    const parsed = endpointSchema.safeParse(text);
    if (!parsed.success) for (const issue of parsed.error.issues) problems.push(`${where}: ${issue.message}`);
    else endpoints.push(`${new URL(text).protocol}//${new URL(text).host}`);
  });
  const schemes = new Set(endpoints.map((e) => new URL(e).protocol));
  if (schemes.size > 1) problems.push(`${endpointsPicked.source}: endpoints mix http and https; use one scheme for all`);
  const secure = schemes.has('https:') && schemes.size === 1;

  // TLS files.
  const filePathOf = (name: 'ca' | 'cert' | 'key'): string | undefined => {
    const p = pick(name);
    if (!p) return undefined;
    sources[name] = p.source;
    const path = p.value as string;
    return p.baseDir && !isAbsolute(path) ? resolve(p.baseDir, path) : path;
  };
  const caFile = filePathOf('ca');
  const certFile = filePathOf('cert');
  const keyFile = filePathOf('key');
  if (certFile && !keyFile) problems.push(`${sources.cert}: a client certificate needs its key (--etcd-key, GANTRY_ETCD_KEY or "key" in the config file)`);
  if (keyFile && !certFile) problems.push(`${sources.key}: a client key needs its certificate (--etcd-cert, GANTRY_ETCD_CERT or "cert" in the config file)`);
  const tlsSource = sources.ca ?? sources.cert ?? sources.key;
  if (tlsSource && endpoints.length > 0 && !secure) problems.push(`${tlsSource}: TLS files are set but the endpoints (${sources.endpoints}) use http://; use https:// endpoints`);

  // User and password.
  const userPicked = pick('user');
  const passwordPicked = pick('password');
  if (userPicked) sources.user = userPicked.source;
  if (passwordPicked) sources.password = passwordPicked.source;
  if (userPicked && !passwordPicked) problems.push(`${userPicked.source}: an etcd user needs a password (GANTRY_ETCD_PASSWORD, "password" in the config file or --etcd-password)`);
  if (passwordPicked && !userPicked) problems.push(`${passwordPicked.source}: a password needs a user (--etcd-user, GANTRY_ETCD_USER or "user" in the config file)`);

  if (problems.length > 0) throw new EtcdConfigError(problems);
  const options: EtcdConnectionOptions = { endpoints, sources };
  if (caFile || certFile || keyFile) options.tls = { ...(caFile && { caFile }), ...(certFile && { certFile }), ...(keyFile && { keyFile }) };
  if (userPicked && passwordPicked) options.auth = makeAuth(userPicked.value as string, passwordPicked.value as string);
  return options;
}

/** `{ user, password }` with the password hidden from JSON.stringify, console.log and object spread. */
export function makeAuth(user: string, password: string): EtcdAuth {
  const auth = { user } as EtcdAuth;
  Object.defineProperty(auth, 'password', { value: password, enumerable: false });
  return auth;
}

/**
 * A one-line description for logs. Secrets never appear: the password is `***`, TLS material is
 * named by file path only.
 */
export function describeConnection(opts: EtcdConnectionOptions): string {
  const parts = [`etcd ${opts.endpoints.join(',')}`];
  const from = opts.sources.endpoints;
  if (from && from !== 'default') parts[0] += ` (from ${from})`;
  if (opts.tls) {
    const files = [opts.tls.caFile && `ca=${opts.tls.caFile}`, opts.tls.certFile && `cert=${opts.tls.certFile}`, opts.tls.keyFile && `key=${opts.tls.keyFile}`].filter(Boolean);
    parts.push(`tls ${files.join(' ') || '(system roots)'}`);
  } else if (opts.endpoints.some((e) => e.startsWith('https:'))) {
    parts.push('tls (system roots)');
  }
  if (opts.auth) parts.push(`user ${opts.auth.user} password ***`);
  return parts.join(', ');
}

function loadConfigFile(path: string, namedBy: string, readFile: (path: string) => string, problems: string[]): ConfigFile {
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    problems.push(`${namedBy}: cannot read etcd config file ${path}: ${(err as Error).message}`);
    return {};
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    problems.push(`${path} (from ${namedBy}): not valid JSON: ${(err as Error).message}`);
    return {};
  }
  const parsed = configFileSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) {
    const where = issue.path.length ? issue.path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`)).join('').replace(/^\./, '') : '(root)';
    problems.push(`${path} (from ${namedBy}): ${where}: ${issue.message}`);
  }
  return {};
}

/** `http://user:secret@host` → `http://***@host`: an endpoint in an error must not leak a password. */
function redactUserinfo(text: string): string {
  return text.replace(/\/\/[^/@]*@/, '//***@');
}

function camelCase(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
