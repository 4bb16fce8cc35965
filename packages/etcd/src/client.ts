import { readFileSync } from 'node:fs';
import { Etcd3, type IOptions } from 'etcd3';
import { EtcdConfigError, type EtcdConnectionOptions } from './connection-options';
import { faultHandling } from './fault-handling';
import { describeIdentity, explainAccessDenied, setIdentity } from './access-denied';

/** Deadline of a unary call (get, put, txn, lease grant...) when nothing else is said (ms). */
export const DEFAULT_CALL_TIMEOUT_MS = 5000;

export interface ConnectTuning {
  /**
   * Deadline of every unary call (ms), connecting included. Default 5000. Streams (watches, lease
   * keepalives) get none: they are meant to stay open, and their users watch them with their own timers.
   *
   * This is also the dial timeout: etcd3 1.1.2 declares a `dialTimeout` option but never reads it, and
   * grpc-js has no connect timeout, so a call to an unreachable etcd is bounded by this deadline alone.
   */
  callTimeoutMs?: number;
  /** How long a host's breaker refuses calls after 3 consecutive failures (ms). Default 1000 (etcd3: 5000). */
  breakerOpenMs?: number;
  /** Cap of gRPC's reconnect backoff (ms). Default 1000 (grpc-js: 120 000, i.e. up to 2 min blind after a long outage). */
  reconnectBackoffMaxMs?: number;
}

/**
 * A call option that bounds each attempt of one call to `ms`: `client.get(k).options(deadlineIn(2000))`.
 * The deadline is read afresh each time etcd3 resolves the options — once per attempt — so a call
 * that timed out on one member and is retried on the next (see RetryPolicy) gets `ms` again there,
 * rather than a deadline already past.
 */
export function deadlineIn(ms: number): { deadline: Date } {
  const options = {} as { deadline: Date };
  Object.defineProperty(options, 'deadline', { enumerable: true, get: () => new Date(Date.now() + ms) });
  return options;
}

/**
 * gRPC metadata asking etcd to serve the call only while its member has a leader: etcd's
 * require-leader (Go: `clientv3.WithRequireLeader`), the metadata `hasleader: true`. A stream opened
 * with it is refused by a member without a leader ("etcdserver: no leader", UNAVAILABLE), and an
 * open one is canceled with that error once the member has had no leader for three election
 * timeouts — so a client watching through a member cut off from the quorum is told, instead of
 * waiting forever on a member that will never see another change.
 */
export const REQUIRE_LEADER_KEY = 'hasleader';

/** The services whose calls carry require-leader: watches, and leases (grant and the keepalive stream). */
export const REQUIRE_LEADER_SERVICES: ReadonlySet<string> = new Set(['Watch', 'Lease']);

/** What etcd3 passes a call with; `clone` and `set` are grpc-js Metadata's. */
interface MetadataLike {
  clone(): MetadataLike;
  set(key: string, value: string): void;
}

/** A copy of `metadata` (etcd3 caches the auth metadata and shares it across calls: never mutate it) with require-leader set. */
export function withRequireLeader<M extends MetadataLike>(metadata: M): M {
  const copy = metadata.clone() as M;
  copy.set(REQUIRE_LEADER_KEY, 'true');
  return copy;
}

type WithConnection = (service: string, fn: (args: { metadata: MetadataLike } & Record<string, unknown>) => unknown, ...rest: unknown[]) => Promise<unknown>;

/**
 * etcd3 1.1.2 has no option for require-leader: this wraps its connection pool's `withConnection`
 * (through which every call goes: unary ones via `exec`, streams directly) so that calls of
 * REQUIRE_LEADER_SERVICES get the metadata. Returns the client for chaining.
 */
export function requireLeader(client: Etcd3): Etcd3 {
  const pool = (client as unknown as { pool?: { withConnection?: WithConnection } }).pool;
  if (!pool || typeof pool.withConnection !== 'function') throw new Error('etcd3 client without the connection pool this version of Gantry expects (etcd3 1.1.2)');
  const original = pool.withConnection.bind(pool);
  pool.withConnection = (service, fn, ...rest) =>
    original(service, REQUIRE_LEADER_SERVICES.has(service) ? (args) => fn({ ...args, metadata: withRequireLeader(args.metadata) }) : fn, ...rest);
  return client;
}

/**
 * Builds the etcd3 client for `opts`: TLS material read from its files now (errors name each file and
 * where it was configured), user/password auth, a deadline on every unary call so nothing hangs
 * forever while etcd is down, fault handling with short waits (see fault-handling.ts): with several
 * endpoints a call that fails or times out on one member is retried on the next — and require-leader
 * on watches and leases (see REQUIRE_LEADER_KEY), so a member cut off from the quorum sends its
 * watchers elsewhere.
 * The caller owns the client and must `close()` it.
 */
export function connectEtcd(opts: EtcdConnectionOptions, tuning: ConnectTuning = {}): Etcd3 {
  const callTimeoutMs = tuning.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  if (!(callTimeoutMs > 0)) throw new RangeError(`callTimeoutMs must be > 0 (got ${callTimeoutMs})`);
  const options: IOptions = {
    hosts: opts.endpoints,
    defaultCallOptions: (context) => (context.isStream ? {} : deadlineIn(callTimeoutMs)),
    grpcOptions: {
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': tuning.reconnectBackoffMaxMs ?? 1000,
      // Notice a dead connection (a host gone without a RST) on open streams. etcd refuses pings
      // more often than every 5 s, and pings without calls, so: every 10 s, only with calls open.
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
    },
    faultHandling: faultHandling({ hosts: opts.endpoints.length, breaker: { openMs: tuning.breakerOpenMs ?? 1000 } }),
  };
  const credentials = tlsCredentials(opts);
  if (credentials) options.credentials = credentials;
  if (opts.auth) options.auth = { username: opts.auth.user, password: opts.auth.password };
  return explainAccessDenied(requireLeader(new Etcd3(options)), describeIdentity(opts));
}

/** The parts of etcd3 1.1.2's connection pool that hold credentials. */
interface PoolInternals {
  options: IOptions;
  hosts: Array<{ channelCredentials: unknown; resetAllServices(): void }>;
  buildAuthentication(): unknown;
}

/**
 * Makes `client` use the credentials of `opts` from its next call on: TLS files read again (errors
 * name each file; nothing changes then), the user and password replaced, and every connection
 * reopened with them. Open watches and lease keepalives see their stream end and reconnect, as
 * after any disconnect; leases are kept. The endpoints cannot change this way.
 */
export function reloadCredentials(client: Etcd3, current: EtcdConnectionOptions, next: EtcdConnectionOptions): void {
  if (next.endpoints.join(',') !== current.endpoints.join(',')) {
    throw new EtcdConfigError([`${next.sources.endpoints ?? 'endpoints'}: the endpoints changed (${current.endpoints.join(',')} → ${next.endpoints.join(',')}); restart to use new endpoints`]);
  }
  const credentials = tlsCredentials(next); // throws, naming the file, before anything changes
  const pool = (client as unknown as { pool?: PoolInternals }).pool;
  if (!pool || typeof pool.buildAuthentication !== 'function' || !Array.isArray(pool.hosts)) {
    throw new Error('etcd3 client without the connection pool this version of Gantry expects (etcd3 1.1.2)');
  }
  pool.options.credentials = credentials;
  pool.options.auth = next.auth ? { username: next.auth.user, password: next.auth.password } : undefined;
  // A new authenticator (no cached token) and channel credentials; each host's services are closed so the next call dials anew.
  const channelCredentials = pool.buildAuthentication();
  for (const host of pool.hosts) {
    host.channelCredentials = channelCredentials;
    host.resetAllServices();
  }
  setIdentity(client, describeIdentity(next));
}

/**
 * grpc-js passes the endpoint's host as the TLS server name, and Node warns (DEP0123) when it is an
 * IP address, as loopback and most etcd endpoints are. The certificate is still checked against the
 * IP (its subjectAltName); only the SNI is dropped, which etcd does not use. That one warning is
 * dropped; every other warning is emitted as before.
 */
let ipServerNameWarningSilenced = false;
function silenceIpServerNameWarning(): void {
  if (ipServerNameWarningSilenced) return;
  ipServerNameWarningSilenced = true;
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const code = typeof rest[0] === 'object' && rest[0] !== null ? (rest[0] as { code?: string }).code : rest[1];
    if (code === 'DEP0123') return;
    emit(warning, ...rest);
  }) as typeof process.emitWarning;
}

/** The TLS material of `opts` read from its files, for https endpoints (or TLS files set); undefined for plain http. */
function tlsCredentials(opts: EtcdConnectionOptions): NonNullable<IOptions['credentials']> | undefined {
  if (!opts.tls && !opts.endpoints.some((e) => e.startsWith('https:'))) return undefined;
  const credentials = readTls(opts);
  silenceIpServerNameWarning();
  return credentials;
}

function readTls(opts: EtcdConnectionOptions): NonNullable<IOptions['credentials']> {
  const problems: string[] = [];
  const read = (path: string | undefined, what: string, source: string | undefined): Buffer | undefined => {
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      problems.push(`cannot read etcd ${what} file ${path}${source ? ` (from ${source})` : ''}: ${(err as Error).message}`);
      return undefined;
    }
  };
  const ca = read(opts.tls?.caFile, 'TLS CA', opts.sources.ca);
  const cert = read(opts.tls?.certFile, 'client certificate', opts.sources.cert);
  const key = read(opts.tls?.keyFile, 'client key', opts.sources.key);
  if (problems.length > 0) throw new EtcdConfigError(problems);
  // Without a CA, grpc-js uses the system roots (etcd3 types the CA as required; null is what grpc wants).
  return { rootCertificate: ca ?? (null as unknown as Buffer), ...(cert && { certChain: cert }), ...(key && { privateKey: key }) };
}
