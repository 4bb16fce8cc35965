import { execFile } from 'node:child_process';

/**
 * Docker's credential-helper protocol (github.com/docker/docker-credential-helpers):
 * `docker-credential-NAME get` reads a server address on stdin and prints
 * `{"ServerURL": …, "Username": …, "Secret": …}`; Username "<token>" means Secret is an identity
 * token. A helper without a login for that server exits non-zero printing "credentials not found
 * in native keychain", which the Docker CLI takes as "pull anonymously", not as an error.
 */

/** What one run of a helper came to; the only thing the process part hands back. */
export type HelperOutcome =
  | { kind: 'exited'; code: number; stdout: string; stderr: string }
  | { kind: 'missing' }
  | { kind: 'timed-out' }
  | { kind: 'failed'; message: string };

/** What a helper said about a server: credentials, or that it holds none. */
export type HelperAnswer = { kind: 'credentials'; username?: string; password?: string; identitytoken?: string } | { kind: 'not-found' };

/** Where the helper was configured, for errors: which program, for which registry, set where. */
export interface HelperContext {
  /** The helper's name as configured ("ecr-login"); the program is docker-credential-NAME. */
  helper: string;
  registry: string;
  /** 'credHelpers["quay.io"] in /root/.docker/config.json', 'credsStore in …'. */
  setting: string;
  timeoutMs: number;
}

export const TOKEN_USERNAME = '<token>';
/** How much of a failing helper's own words an error quotes: enough to explain, too little to carry much. */
const QUOTED_OUTPUT_CHARS = 300;

export const helperProgram = (helper: string): string => `docker-credential-${helper}`;

/** A name that runs a program from PATH, nothing else: no path, no option, nothing empty. */
export function checkHelperName(helper: string, setting: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(helper)) {
    throw new Error(`credential helper name ${JSON.stringify(helper)} (${setting}) is not valid: expected a name like "ecr-login", run as docker-credential-NAME from PATH`);
  }
}

const quote = (text: string): string => {
  const t = text.trim().replace(/\s+/g, ' ');
  return t.length > QUOTED_OUTPUT_CHARS ? `${t.slice(0, QUOTED_OUTPUT_CHARS)}…` : t;
};

/**
 * The answer in a helper's outcome, or an error naming the helper, its setting and the registry.
 * Pure. Never puts the secret in an error: the stdout of a successful run is never quoted.
 */
export function interpretHelperOutcome(outcome: HelperOutcome, ctx: HelperContext): HelperAnswer {
  const who = `credential helper ${helperProgram(ctx.helper)} (${ctx.setting})`;
  switch (outcome.kind) {
    case 'missing':
      return fail(`${who} is not on PATH: cannot get credentials for registry ${ctx.registry}`);
    case 'timed-out':
      return fail(`${who} did not answer within ${ctx.timeoutMs} ms for registry ${ctx.registry}`);
    case 'failed':
      return fail(`${who} could not be run for registry ${ctx.registry}: ${outcome.message}`);
    case 'exited':
      break;
  }
  if (outcome.code !== 0) {
    // The helper's message is on stdout by the protocol; some put it on stderr.
    const said = quote(outcome.stdout) || quote(outcome.stderr);
    if (/credentials not found/i.test(said)) return { kind: 'not-found' };
    return fail(`${who} failed for registry ${ctx.registry} (exit ${outcome.code})${said ? `: ${said}` : ''}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(outcome.stdout);
  } catch {
    return fail(`${who} printed no valid JSON for registry ${ctx.registry} (expected {"ServerURL", "Username", "Secret"})`);
  }
  const { Username, Secret } = (parsed ?? {}) as { Username?: unknown; Secret?: unknown };
  if (parsed === null || typeof parsed !== 'object' || typeof Username !== 'string' || typeof Secret !== 'string') {
    return fail(`${who} printed JSON without string "Username" and "Secret" for registry ${ctx.registry}`);
  }
  if (Username === '' && Secret === '') return { kind: 'not-found' };
  return Username === TOKEN_USERNAME ? { kind: 'credentials', identitytoken: Secret } : { kind: 'credentials', username: Username, password: Secret };
}

function fail(message: string): never {
  throw new Error(message);
}

/** Runs one helper, or reports why it could not; the part that touches processes, kept to this. */
export type RunHelper = (program: string, stdin: string, opts: { timeoutMs: number; signal?: AbortSignal }) => Promise<HelperOutcome>;

/** `PROGRAM get` from PATH with `stdin`, killed at the deadline; stdout and stderr capped at 1 MiB. */
export const execCredentialHelper: RunHelper = (program, stdin, { timeoutMs, signal }) =>
  new Promise((resolve) => {
    const child = execFile(program, ['get'], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024, signal, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolve({ kind: 'exited', code: 0, stdout, stderr });
      const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: string | number };
      if (e.code === 'ENOENT') return resolve({ kind: 'missing' });
      if (e.name === 'AbortError') return resolve({ kind: 'failed', message: 'aborted' });
      if (e.killed) return resolve({ kind: 'timed-out' });
      if (typeof e.code === 'number') return resolve({ kind: 'exited', code: e.code, stdout, stderr });
      resolve({ kind: 'failed', message: e.message });
    });
    // A helper that exits without reading stdin must not crash us with EPIPE.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(stdin);
  });

/** Asks `ctx.helper` for the credentials of `serverAddress` (the key Docker uses for the registry). */
export async function getFromHelper(serverAddress: string, ctx: HelperContext, opts: { run?: RunHelper; signal?: AbortSignal } = {}): Promise<HelperAnswer> {
  checkHelperName(ctx.helper, ctx.setting);
  const run = opts.run ?? execCredentialHelper;
  return interpretHelperOutcome(await run(helperProgram(ctx.helper), serverAddress, { timeoutMs: ctx.timeoutMs, signal: opts.signal }), ctx);
}
