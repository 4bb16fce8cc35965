import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { connectEtcd, describeConnection, EtcdAccessDeniedError, EtcdConfigError, etcdOptionDefinitions, resolveConnectionOptions, type EtcdConnectionOptions } from '@gantry/etcd';
import { DEFAULT_HISTORY_LIMIT, DEFAULT_POLICY_PATH, KeyLayout } from '@gantry/spec';
import { parseDurationMs } from './rollout/gone-hosts';
import { Agent } from './agent/agent';
import { DEFAULT_KEEP_IMAGES } from './agent/image-retention';
import { HostLock, HostLockedError } from './agent/host-lock';
import { installCrashHandlers } from './agent/crash-report';
import { createLogger, type Logger } from './agent/logger';
import { EXIT_HOST_ALREADY_RUNNING, HostAlreadyRunningError } from './agent/registration';
import { createHostEngine, defaultStateDir } from './engine/host-engine';
import { ContainerTeardowns } from './engine/teardown';
import { startCoordinatorOnly } from './agent/coordinator-only';
import { reloadEtcdCredentials } from './agent/credential-reload';
import { COORDINATOR_MODES, type CoordinatorMode } from './rollout/coordinator-capability';
import { hostAdmissionOrExit } from './policy/policy-flag';
import { HostLinkEndpoints } from './links/link-host';
import { DEFAULT_LINK_PORTS, parseLinkPortRange } from './links/link-ports';

const agentVersion: string = require('../package.json').version;

/** Exit code when etcd refuses this gantryd's credentials (a key its roles do not grant, a wrong password). */
const EXIT_ACCESS_DENIED = 5;

/** How long SIGTERM waits for the agent to wind down before gantryd exits anyway. */
const STOP_DEADLINE_MS = 10_000;

/** `--label k=v` (repeatable) → `{ k: v }`; a malformed one is a usage error. */
function parseLabels(raw: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const item of raw) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`--label "${item}": expected KEY=VALUE`);
    labels[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return labels;
}

/**
 * Refuses to run a host id that already runs: one plain line on stderr, one JSON log line, exit 4.
 * Nothing was started or written by then.
 */
async function refuse(log: Logger, message: string, meta: Record<string, unknown>): Promise<never> {
  return exitWith(log, EXIT_HOST_ALREADY_RUNNING, message, 'refusing to start: this host id already runs', meta);
}

/** One plain line on stderr, one JSON log line, the log flushed (bounded), then exit `code`. */
async function exitWith(log: Logger, code: number, message: string, logMessage: string, meta: Record<string, unknown>): Promise<never> {
  process.stderr.write(`gantryd: ${message}\n`);
  log.error(logMessage, { ...meta, error: message });
  await new Promise<void>((resolve) => {
    log.on('finish', () => resolve());
    log.end();
    setTimeout(resolve, 500).unref();
  });
  process.exit(code);
}

/**
 * gantryd's entry point: runs the agent until SIGINT/SIGTERM. Exit codes: 0 stopped, 2 bad usage,
 * 3 the state directory cannot be locked, 4 this host id already runs (the state directory's lock is
 * held, or etcd holds another gantryd's registration for it), 5 etcd refused the credentials (the
 * message names the user and the key).
 */
export async function main(argv: string[]): Promise<void> {
  const args = await yargs(argv)
    .scriptName('gantryd')
    .usage('$0 --etcd URLS --host ID --project NAME [--bind ADDRESS]\n\nThe Gantry agent: runs on every host, converges it to what etcd says, and reports status.')
    .options(etcdOptionDefinitions)
    .alias('etcd-endpoints', 'etcd')
    .option('host', { type: 'string', default: process.env.GANTRY_HOST ?? hostname(), describe: "this host's id [env GANTRY_HOST]" })
    .option('project', { type: 'string', demandOption: !process.env.GANTRY_PROJECT, default: process.env.GANTRY_PROJECT, describe: 'the project to run [env GANTRY_PROJECT]' })
    .option('bind', { type: 'string', default: '0.0.0.0', describe: "address the host's HAProxy frontends listen on" })
    .option('label', { type: 'string', array: true, default: [] as string[], describe: 'a host label KEY=VALUE (repeatable), for rollouts to select hosts by' })
    .option('prefix', { type: 'string', default: '/gantry/', describe: 'etcd key prefix' })
    .option('state-dir', { type: 'string', default: defaultStateDir(), describe: "where the host's HAProxy keeps its config, sockets and pid" })
    .option('docker-host', { type: 'string', describe: 'Docker Engine address (default: $DOCKER_HOST, then /var/run/docker.sock)' })
    .option('docker-timeout', { type: 'number', default: 10, describe: 'seconds a Docker call may take before docker counts as unavailable (a stop: its stop timeout plus this)' })
    .option('haproxy', { type: 'string', default: 'haproxy', describe: 'the haproxy binary' })
    .option('link-address', { type: 'string', default: 'docker-bridge', describe: "address component links listen on, for this host's containers to reach: docker-bridge asks Docker for its bridge's address (172.17.0.1)" })
    .option('link-ports', { type: 'string', default: `${DEFAULT_LINK_PORTS.first}-${DEFAULT_LINK_PORTS.last}`, describe: 'ports component links are given from, FIRST-LAST; a link keeps its port across restarts' })
    .option('lease-ttl', { type: 'number', default: 10, describe: 'seconds before a dead agent’s registration expires' })
    .option('resync', { type: 'number', default: 30, describe: 'seconds between checks that what runs is what should, without any change in etcd' })
    .option('history-limit', { type: 'number', default: DEFAULT_HISTORY_LIMIT, describe: 'finished rollouts kept in history per component, when this agent coordinates (older ones are deleted)' })
    .option('policy', { type: 'string', describe: `this host's policy file: what components may do here (default ${DEFAULT_POLICY_PATH}; without it, the default policy)` })
    .option('coordinator', {
      choices: COORDINATOR_MODES,
      default: 'auto' as CoordinatorMode,
      describe: "auto: a coordinator candidate when the etcd credentials allow a coordinator's writes; never; only: a coordinator alone, without Docker, HAProxy or a host (a control host)",
    })
    .option('keep-images', { type: 'number', default: DEFAULT_KEEP_IMAGES, describe: "images of the last N versions of each component this host ran are kept (an undo needs no pull); older ones of the component's repo are removed after an update (0: keep every image)" })
    .option('gone-host-retention', { type: 'string', default: '24h', describe: 'how long the status keys of a host whose registration is gone are kept, when this agent coordinates (90s, 30m, 24h)' })
    .check((a) => {
      if (parseDurationMs(a['gone-host-retention']) === undefined) throw new Error(`--gone-host-retention "${a['gone-host-retention']}" is not a duration: 90s, 30m, 24h, 7d`);
      if (!Number.isInteger(a['keep-images']) || a['keep-images'] < 0) throw new Error(`--keep-images must be a whole number, 0 or more: got ${a['keep-images']}`);
      if (!Number.isInteger(a['history-limit']) || a['history-limit'] < 1) throw new Error(`--history-limit must be a whole number, 1 or more: got ${a['history-limit']}`);
      parseLinkPortRange(a['link-ports']);
      if (a['link-address'] !== 'docker-bridge' && isIP(a['link-address']) === 0) throw new Error(`--link-address "${a['link-address']}": expected an IP address of this host, or docker-bridge`);
      return true;
    })
    .strict()
    .help()
    .version(agentVersion)
    .parseAsync();

  installCrashHandlers({ host: args.host, project: args.project });
  const log = createLogger({ host: args.host, project: args.project! });
  let connection: EtcdConnectionOptions;
  try {
    connection = resolveConnectionOptions({ flags: args });
  } catch (err) {
    if (err instanceof EtcdConfigError) {
      process.stderr.write(`gantryd: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  let labels: Record<string, string>;
  try {
    labels = parseLabels(args.label);
  } catch (err) {
    process.stderr.write(`gantryd: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const keys = new KeyLayout(args.prefix);
  const coordinatorOptions = { historyLimit: args['history-limit'], goneHostRetentionMs: parseDurationMs(args['gone-host-retention']) };
  if (args.coordinator === 'only') return runCoordinatorOnly();
  const policy = hostAdmissionOrExit(args.policy, { log, dockerHost: args['docker-host'], stateDir: args['state-dir'] });
  // One gantryd per host id: this machine's lock on the host's state directory first, then (the
  // agent's first step) a registration in etcd created only if absent.
  let lock: HostLock;
  try {
    lock = HostLock.acquire({ stateDir: args['state-dir'], hostId: args.host });
  } catch (err) {
    if (err instanceof HostLockedError) return refuse(log, err.message, { hostId: args.host, lockFile: err.lockFile, ...(err.owner && { holder: err.owner }) });
    process.stderr.write(`gantryd: cannot lock the state directory of host ${args.host} under ${args['state-dir']}: ${(err as Error).message}\n`);
    process.exit(3);
  }
  process.on('exit', () => lock.release());
  if (lock.tookOver) log.warn('took over a stale lock', { lockFile: lock.file, reason: lock.tookOver.reason, ...(lock.tookOver.owner && { previous: lock.tookOver.owner }) });

  log.info('connecting to etcd', { etcd: describeConnection(connection) });
  const etcd = connectEtcd(connection);
  const hostEngine = createHostEngine({ stateDir: args['state-dir'], hostId: args.host, haproxyBin: args.haproxy, dockerHost: args['docker-host'], dockerTimeoutMs: args['docker-timeout'] * 1000 });
  const links = new HostLinkEndpoints({
    stateDir: args['state-dir'],
    hostId: args.host,
    range: parseLinkPortRange(args['link-ports']),
    address: args['link-address'] === 'docker-bridge' ? { docker: hostEngine.runtime.docker } : args['link-address'],
  });
  const agent = new Agent({
    etcd,
    keys,
    coordinatorMode: args.coordinator,
    // One host-wide teardown: a drained container's stop never holds up an update or a rollout.
    engine: { ...hostEngine, admission: policy.admission, teardown: new ContainerTeardowns(hostEngine.runtime) },
    ctx: { project: args.project!, hostId: args.host, bindAddress: args.bind, publishAddress: '127.0.0.1', links },
    labels,
    agentVersion,
    log,
    leaseTtlS: args['lease-ttl'],
    resyncMs: args.resync * 1000,
    coordinator: coordinatorOptions,
    // Beside the host's other state: what it ran is remembered across restarts.
    ...(args['keep-images'] > 0 && { imageRetention: { keep: args['keep-images'], file: join(args['state-dir'], args.host, 'images', `${args.project}.json`) } }),
    onRegistrationTaken: (err) => {
      process.stderr.write(`gantryd: ${err.message}\n`);
      shutdown('registration taken', EXIT_HOST_ALREADY_RUNNING);
    },
  });

  let stopping = false;
  const shutdown = (signal: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping: containers and HAProxy keep serving', { signal });
    // Bounded: a docker or etcd that does not answer must not keep gantryd from exiting.
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        log.warn(`agent did not stop within ${STOP_DEADLINE_MS} ms (docker or etcd not answering): exiting anyway`);
        resolve();
      }, STOP_DEADLINE_MS);
    });
    void Promise.race([agent.stop().catch((err: Error) => log.error('error while stopping', { error: err.message })), bound])
      .finally(() => {
        clearTimeout(timer);
        etcd.close();
        lock.release();
        process.exit(code);
      });
  };
  process.on('SIGHUP', () => {
    connection = reloadEtcdCredentials(etcd, connection, args, log);
    policy.reload(() => agent.policyChanged());
  });
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  try {
    await agent.start();
  } catch (err) {
    if (stopping) return; // SIGTERM or SIGINT before etcd answered: shutdown() exits
    if (err instanceof EtcdAccessDeniedError) return deny(log, err, () => (lock.release(), etcd.close()));
    if (!(err instanceof HostAlreadyRunningError)) throw err;
    lock.release();
    etcd.close();
    return refuse(log, err.message, { hostId: err.hostId, key: err.key, holder: err.holder, holderLease: err.existing.leaseId });
  }

  /** `--coordinator only`: the coordinator alone, until SIGINT/SIGTERM. */
  async function runCoordinatorOnly(): Promise<void> {
    log.info('connecting to etcd', { etcd: describeConnection(connection) });
    const etcd = connectEtcd(connection);
    let coordinator: Awaited<ReturnType<typeof startCoordinatorOnly>> | undefined;
    const stop = (signal: string) => {
      log.info('stopping the coordinator', { signal });
      const bound = setTimeout(() => process.exit(0), STOP_DEADLINE_MS);
      void (coordinator?.stop() ?? Promise.resolve()).finally(() => {
        clearTimeout(bound);
        etcd.close();
        process.exit(0);
      });
    };
    process.on('SIGHUP', () => (connection = reloadEtcdCredentials(etcd, connection, args, log)));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    try {
      coordinator = await startCoordinatorOnly({ etcd, keys, project: args.project!, hostId: args.host, log, leaseTtlS: args['lease-ttl'], coordinator: coordinatorOptions });
    } catch (err) {
      if (err instanceof EtcdAccessDeniedError) return deny(log, err, () => etcd.close());
      throw err;
    }
  }
}

/** etcd refused the credentials: one plain line on stderr naming the user and the key, one JSON log line, exit 5. */
async function deny(log: Logger, err: EtcdAccessDeniedError, cleanup: () => void): Promise<never> {
  cleanup();
  return exitWith(log, EXIT_ACCESS_DENIED, err.message, 'etcd refused these credentials', { identity: err.identity, operation: err.operation, keys: err.keys });
}
