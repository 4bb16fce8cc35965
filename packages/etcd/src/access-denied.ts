import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { EtcdAuthenticationFailedError, EtcdPermissionDeniedError, type Etcd3 } from 'etcd3';
import type { EtcdConnectionOptions } from './connection-options';

/**
 * etcd refused a call for the credentials it came with: a key range the user's roles do not grant,
 * or a user or password etcd does not know. The message names the user, the operation and every key
 * of the request, so an operator can tell which role is missing which range; it is never worth
 * retrying with the same credentials.
 */
export class EtcdAccessDeniedError extends Error {
  constructor(
    /** How the client authenticated: `user "x"`, `certificate CN "x"`, or `no user (auth not configured)`. */
    readonly identity: string,
    /** `write`, `read`, `delete` or `authenticate`. */
    readonly operation: string,
    readonly keys: readonly string[],
    readonly reason: string,
  ) {
    super(operation === 'authenticate' ? `${reason}: etcd ${identity}` : `${reason}: etcd ${identity} may not ${operation}${keys.length ? ` ${keys.join(', ')}` : ''}`);
    this.name = 'EtcdAccessDeniedError';
  }
}

/** True for a refusal of the credentials (EtcdAccessDeniedError, or etcd3's own errors before wrapping). */
export function isAccessDenied(err: unknown): boolean {
  return err instanceof EtcdAccessDeniedError || err instanceof EtcdPermissionDeniedError || err instanceof EtcdAuthenticationFailedError;
}

/**
 * Who etcd sees: the password user when there is one (etcd prefers a token over the certificate),
 * else the client certificate's CN (etcd's --client-cert-auth takes it as the user name).
 */
export function describeIdentity(opts: Pick<EtcdConnectionOptions, 'auth' | 'tls'>, readFile: (path: string) => Buffer = readFileSync): string {
  if (opts.auth) return `user "${opts.auth.user}"`;
  if (opts.tls?.certFile) {
    try {
      const cn = /(?:^|\n)CN=([^\n]*)/.exec(new X509Certificate(readFile(opts.tls.certFile)).subject)?.[1];
      if (cn !== undefined) return `user "${cn}" (certificate CN)`;
    } catch {
      // An unreadable certificate fails the connection itself, with its own error naming the file.
    }
    return `client certificate ${opts.tls.certFile}`;
  }
  return 'client without a user (no password, no client certificate)';
}

type Bytes = Buffer | string | undefined | null;
interface RangeLike {
  key?: Bytes;
  range_end?: Bytes;
}
interface RequestOp {
  request_range?: RangeLike;
  request_put?: RangeLike;
  request_delete_range?: RangeLike;
  request_txn?: TxnLike;
}
interface TxnLike {
  compare?: RangeLike[];
  success?: RequestOp[];
  failure?: RequestOp[];
}

const text = (b: Bytes): string => (b === undefined || b === null ? '' : Buffer.isBuffer(b) ? b.toString('utf8') : String(b));

/** `key`, or `key*` for a prefix range, or `[key, end)` for another range. */
function rangeText(r: RangeLike): string {
  const key = text(r.key);
  const end = r.range_end ? Buffer.from(r.range_end as Buffer) : undefined;
  if (!end || end.length === 0) return key;
  const start = Buffer.from(key);
  // A prefix's range end is the prefix with its last byte incremented.
  if (start.length > 0 && end.length === start.length && end.subarray(0, -1).equals(start.subarray(0, -1)) && end[end.length - 1] === start[start.length - 1]! + 1) return `${key}*`;
  if (end.length === 1 && end[0] === 0) return `${key}…(every key from it on)`;
  return `[${key}, ${end.toString('utf8')})`;
}

/** What a KV request asks: its operation and keys (writes first: those are what a role usually lacks). */
export function describeKvRequest(method: string, payload: unknown): { operation: string; keys: string[] } {
  const writes: string[] = [];
  const deletes: string[] = [];
  const reads: string[] = [];
  const visit = (op: RequestOp) => {
    if (op.request_put) writes.push(rangeText(op.request_put));
    if (op.request_delete_range) deletes.push(rangeText(op.request_delete_range));
    if (op.request_range) reads.push(rangeText(op.request_range));
    if (op.request_txn) visitTxn(op.request_txn);
  };
  const visitTxn = (txn: TxnLike) => {
    for (const c of txn.compare ?? []) reads.push(rangeText(c));
    for (const op of [...(txn.success ?? []), ...(txn.failure ?? [])]) visit(op);
  };
  const p = (payload ?? {}) as RangeLike & TxnLike;
  if (method === 'put') writes.push(rangeText(p));
  else if (method === 'deleteRange') deletes.push(rangeText(p));
  else if (method === 'range') reads.push(rangeText(p));
  else if (method === 'txn') visitTxn(p);
  const unique = (xs: string[]) => [...new Set(xs)];
  if (writes.length || deletes.length) return { operation: deletes.length && !writes.length ? 'delete' : 'write', keys: unique([...writes, ...deletes]) };
  return { operation: 'read', keys: unique(reads) };
}

/** Who each wrapped client authenticates as; changed when its credentials are re-read (reloadCredentials). */
const identities = new WeakMap<Etcd3, string>();

/** Records who `client` authenticates as from now on, for its refusals' messages. */
export function setIdentity(client: Etcd3, identity: string): void {
  identities.set(client, identity);
}

type Exec = (service: string, method: string, payload: unknown, options?: unknown) => Promise<unknown>;

/**
 * Makes every refusal of `client`'s credentials an {@link EtcdAccessDeniedError} naming the user and
 * the keys: etcd's own answer is a bare "etcdserver: permission denied". Wraps the connection pool's
 * `exec`, through which etcd3 1.1.2 sends every unary call (KV, Lease, Auth...). Streams (watches)
 * are refused through their own events; their users name their prefix. Returns the client.
 */
export function explainAccessDenied(client: Etcd3, identity: string): Etcd3 {
  identities.set(client, identity);
  const pool = (client as unknown as { pool?: { exec?: Exec } }).pool;
  if (!pool || typeof pool.exec !== 'function') throw new Error('etcd3 client without the connection pool this version of Gantry expects (etcd3 1.1.2)');
  const original = pool.exec.bind(pool);
  pool.exec = async (service, method, payload, options) => {
    try {
      return await original(service, method, payload, options);
    } catch (err) {
      if (err instanceof EtcdPermissionDeniedError) {
        const { operation, keys } = service === 'KV' ? describeKvRequest(method, payload) : { operation: `call ${service}.${method}`, keys: [] };
        throw new EtcdAccessDeniedError(identities.get(client)!, operation, keys, 'permission denied');
      }
      if (err instanceof EtcdAuthenticationFailedError) {
        throw new EtcdAccessDeniedError(identities.get(client)!, 'authenticate', [], 'authentication failed (no such user, or a wrong password)');
      }
      throw err;
    }
  };
  return client;
}

/**
 * Whether `client`'s credentials may make these writes, asked of etcd without making them: one
 * transaction holding them all behind a compare that never holds (a create revision below 0).
 * etcd checks every operation of both branches before it evaluates the compare, so the answer is
 * its own: undefined when allowed, else the refusal naming the keys.
 */
export async function refusedWrites(client: Etcd3, writes: { puts: readonly string[]; deletePrefixes?: readonly string[] }): Promise<EtcdAccessDeniedError | undefined> {
  const [first] = writes.puts;
  if (first === undefined) throw new Error('refusedWrites needs at least one put');
  try {
    await client
      .if(first, 'Create', '<', 0)
      .then(...writes.puts.map((key) => client.put(key).value('')), ...(writes.deletePrefixes ?? []).map((prefix) => client.delete().prefix(prefix)))
      .commit();
    return undefined;
  } catch (err) {
    if (err instanceof EtcdAccessDeniedError) return err;
    throw err;
  }
}
