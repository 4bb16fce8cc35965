import { performance } from 'node:perf_hooks';
import { ClientClosedError, EtcdLeaseInvalidError, type IDuplexStream, type ILeaseKeepAliveRequest, type ILeaseKeepAliveResponse, type Namespace } from 'etcd3';
import { EtcdAccessDeniedError } from './access-denied';
import { Backoff, type BackoffOptions } from './backoff';
import { DEFAULT_CALL_TIMEOUT_MS, deadlineIn } from './client';

export interface LeaseKeeperOptions {
  /** Lease TTL in seconds (etcd may raise a very small TTL to its minimum; the granted TTL is used). */
  ttlSeconds: number;
  /**
   * The lease must be presumed gone: no keepalive succeeded for a whole TTL (so etcd, if it is up,
   * has expired it or is about to), or etcd said it no longer exists. The bound keys may be gone.
   * The keeper is already re-granting.
   */
  onLost?: (reason: Error) => void;
  /** After a loss: a new lease is granted and every bound key is written again under it. */
  onRestored?: (leaseId: string) => void;
  /**
   * A create-only key (see `putIfAbsent`) that this keeper had written was found held by another
   * writer when the keeper went to write it again — after a loss, someone else created it while our
   * lease was gone. The keeper did not overwrite it and has unbound the key. (A conflict on the first
   * write is `putIfAbsent`'s result, not this.)
   */
  onConflict?: (key: string, existing: ExistingKey) => void;
  /** Told about each failed call (informational; the keeper retries by itself). */
  onError?: (err: Error) => void;
  /** Deadline of each unary call (grant, put, revoke), ms. Default 5000. */
  callTimeoutMs?: number;
  /** Retry delay for grants and writes. Default 100 ms doubling to 2 s. */
  backoff?: BackoffOptions;
}

/** A key found in etcd, held by another writer. */
export interface ExistingKey {
  value: string;
  /** The lease it is bound to (decimal; "0" for none). */
  leaseId: string;
  createRevision: string;
  modRevision: string;
}

/** How a `putIfAbsent` ended. */
export type PutIfAbsentResult =
  | { outcome: 'written' }
  | { outcome: 'exists'; existing: ExistingKey }
  | { outcome: 'superseded' }
  | { outcome: 'stopped' }
  /** etcd refused the credentials (the lease or the key): retrying with them will not help. */
  | { outcome: 'refused'; error: EtcdAccessDeniedError };

/**
 * What a create-only write may do with the key it finds: create it (absent); take it over under
 * the current lease (ours, under a lease of this keeper that etcd still has: revived on an etcd
 * restart, or lost only by our stricter timer; or bound to no lease at all, so held by no one
 * alive: a value written by hand); or leave it alone (another live lease holds it). Pure.
 */
export function createOnlyDecision(existing: Pick<ExistingKey, 'leaseId'> | undefined, ownLeases: ReadonlySet<string>): 'create' | 'claim' | 'conflict' {
  if (!existing) return 'create';
  return existing.leaseId === '0' || ownLeases.has(existing.leaseId) ? 'claim' : 'conflict';
}

export type LeaseKeeperState = 'idle' | 'granting' | 'alive' | 'lost' | 'stopped';

export interface LeaseKeeperStatus {
  state: LeaseKeeperState;
  /** The current lease (decimal), when one is granted. */
  leaseId?: string;
  /** TTL etcd granted (s). */
  ttlSeconds?: number;
  /** When etcd last confirmed the lease (grant or keepalive), ms since the epoch. */
  lastKeepAliveAt?: number;
  /** Keepalive responses received, all leases together. */
  keepalives: number;
  /** Times the lease was declared lost. */
  losses: number;
  /** Keys bound to the lease. */
  keys: number;
  /** Keys whose current value is not yet written under the current lease, or not yet deleted. */
  pendingKeys: number;
  lastError?: string;
}

type KeepAliveStream = IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;

/**
 * Keeps a lease alive and the keys bound to it present — without etcd3 1.1.2's Lease, whose 'lost'
 * fires only after 2×TTL without a keepalive (by then etcd has long deleted the keys).
 *
 * - Grants the lease, then keeps it alive over a LeaseKeepAlive gRPC stream, one request every TTL/3
 *   (as the Go client does). Keepalives are not writes: they do not advance the store revision.
 * - Its own timer: when no keepalive has succeeded for a whole TTL, the lease is declared lost
 *   (`onLost`) — at most TTL after the last success, not 2×TTL. So is a keepalive answer of TTL 0.
 * - Then it re-grants as soon as etcd answers and re-puts every bound key under the new lease
 *   (`onRestored`); putting a key under the new lease also detaches it from the old one, so the old
 *   lease's expiry cannot delete it later.
 * - Writes only when something changes: `put` of the value a key already has under the current lease
 *   is not written again.
 * - A key bound with `putIfAbsent` is created only if absent, in a transaction, at first and after
 *   every loss: it never overwrites another writer's value (a second agent that registered the same
 *   host while our lease was gone); the keeper unbinds it and says so (`onConflict`).
 *
 * Stop it before closing its client: grpc-js keeps the keepalive stream running after `close()`
 * (measured: ~10 s), and only then does the keeper see the client is closed and give up.
 */
export class LeaseKeeper {
  private readonly requestedTtl: number;
  private readonly callTimeoutMs: number;
  private readonly backoff: Backoff;

  private state: LeaseKeeperState = 'idle';
  private leaseId?: string;
  private grantedTtl?: number;
  private lastKeepAliveAt?: number;
  private keepalives = 0;
  private losses = 0;
  private lastError?: string;
  private restoring = false;
  /**
   * Until when (monotonic ms, `performance.now()`) etcd surely still holds the lease: the send time
   * of the last request it answered (a grant, a keepalive) plus the TTL. etcd renewed the lease
   * when it processed that request, after we sent it, so its expiry is no earlier than this.
   */
  private heldUntil?: number;
  /** Send times of the keepalives on the current stream not yet answered (etcd answers in order). */
  private unanswered: number[] = [];

  /** What the keys should hold. */
  private readonly desired = new Map<string, string>();
  /** What etcd holds, as far as we know: key → value and the lease it was written under. */
  private readonly written = new Map<string, { value: string; leaseId: string }>();
  /** Keys unbound but not yet deleted from etcd. */
  private readonly toDelete = new Set<string>();
  /** Bound keys written only if absent (or still under one of our leases). */
  private readonly createOnly = new Set<string>();
  /** Create-only keys found held by another writer, and what held them. */
  private readonly conflicts = new Map<string, ExistingKey>();
  /** Every lease this keeper was granted: a create-only key under one of them is ours. */
  private readonly ownLeases = new Set<string>();
  /** Create-only keys this keeper has written at least once. */
  private readonly createdOnce = new Set<string>();
  /** Callers of put/delete waiting for etcd to hold what they asked. */
  private waiters: Array<{ done: () => boolean; resolve: () => void }> = [];

  private stream?: KeepAliveStream;
  private keepaliveTimer?: NodeJS.Timeout;
  private lossTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  /** The last refusal of the credentials, until the next create-only write starts. */
  private refusal?: EtcdAccessDeniedError;
  private streamRetryTimer?: NodeJS.Timeout;
  /** Serialises writes (flushes, deletes). Never rejects. */
  private writes: Promise<void> = Promise.resolve();
  private firstGrant?: Promise<string>;
  private settleFirstGrant?: { resolve: (id: string) => void; reject: (err: Error) => void };

  /** `client` is an etcd3 client (or a namespace of one); the keeper does not own it. */
  constructor(
    private readonly client: Namespace,
    private readonly opts: LeaseKeeperOptions,
  ) {
    if (!Number.isInteger(opts.ttlSeconds) || opts.ttlSeconds < 1) throw new RangeError(`ttlSeconds must be a whole number >= 1 (got ${opts.ttlSeconds})`);
    this.requestedTtl = opts.ttlSeconds;
    this.callTimeoutMs = opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.backoff = new Backoff({ minMs: 100, maxMs: 2000, ...opts.backoff });
  }

  /**
   * Grants the lease and starts keeping it alive; resolves with its id. Retries while etcd is
   * unreachable; rejects only if `stop()` comes first. `put` starts the keeper too.
   */
  start(): Promise<string> {
    if (!this.firstGrant) {
      this.firstGrant = new Promise((resolve, reject) => (this.settleFirstGrant = { resolve, reject }));
      this.firstGrant.catch(() => undefined); // a caller that does not await start() must not crash the process
      this.state = 'granting';
      void this.grant();
    }
    return this.firstGrant;
  }

  /**
   * Binds `key` to the lease with `value`, and keeps it there through lease losses (starting the
   * keeper if needed). Resolves once etcd holds the value under the current lease — at once, without
   * a write, if it already does — or once the value is superseded or the keeper stopped. Never
   * rejects: while etcd is unreachable it keeps trying (see `onError` and `status()`).
   */
  put(key: string, value: string): Promise<void> {
    if (this.state === 'stopped') return Promise.resolve();
    this.createOnly.delete(key);
    this.createdOnce.delete(key);
    return this.bind(key, value);
  }

  /**
   * Like `put`, but etcd's key is only ever created, never taken from another live lease: each
   * write — the first, and the rewrite after every lease loss — is a transaction that puts the key
   * only if it does not exist (or exists under a lease of this keeper, or under no lease at all). Resolves `written` once etcd holds the
   * value under the current lease; `exists`, with what etcd holds, if another writer has the key
   * (the key is then unbound and left alone; a conflict found later, after a loss, goes to
   * `onConflict`); `superseded` if another put or delete of the key came first; `stopped` if the
   * keeper stopped first. Never rejects; retries while etcd is unreachable.
   */
  async putIfAbsent(key: string, value: string): Promise<PutIfAbsentResult> {
    if (this.state === 'stopped') return { outcome: 'stopped' };
    this.createOnly.add(key);
    this.conflicts.delete(key);
    this.refusal = undefined;
    await this.bind(key, value); // settles once written, found held by another (unbound), superseded, refused or stopped
    const existing = this.conflicts.get(key);
    if (existing) return { outcome: 'exists', existing };
    if (this.refusal && !this.isWritten(key)) return { outcome: 'refused', error: this.refusal };
    if (this.isWritten(key)) return { outcome: 'written' };
    return this.status().state === 'stopped' ? { outcome: 'stopped' } : { outcome: 'superseded' };
  }

  private bind(key: string, value: string): Promise<void> {
    this.desired.set(key, value);
    this.toDelete.delete(key);
    if (this.state === 'idle') void this.start();
    const done = () => this.state === 'stopped' || this.desired.get(key) !== value || this.isWritten(key) || this.refusal !== undefined;
    const settled = this.waitUntil(done);
    void this.flush();
    return settled;
  }

  /** Unbinds `key` and deletes it from etcd. Resolves once deleted (or the keeper stopped); never rejects. */
  delete(key: string): Promise<void> {
    if (this.state === 'stopped') return Promise.resolve();
    this.desired.delete(key);
    this.createOnly.delete(key);
    this.createdOnce.delete(key);
    this.toDelete.add(key);
    const settled = this.waitUntil(() => this.state === 'stopped' || !this.toDelete.has(key));
    void this.flush();
    return settled;
  }

  /**
   * Whether etcd surely still holds the current lease, `marginMs` from now, by this keeper's own
   * monotonic clock — never by a callback that may come late: after the process was paused
   * (SIGSTOP, a VM freeze, a long GC) this is false at once, before any timer or stream event
   * runs. What a leader checks before it acts (its keys may be gone, and another may lead).
   */
  surelyHeld(marginMs = 0): boolean {
    return this.state === 'alive' && this.heldUntil !== undefined && performance.now() + marginMs < this.heldUntil;
  }

  status(): LeaseKeeperStatus {
    let pendingKeys = this.toDelete.size;
    for (const key of this.desired.keys()) if (!this.isWritten(key)) pendingKeys++;
    return {
      state: this.state,
      ...(this.leaseId !== undefined && { leaseId: this.leaseId }),
      ...(this.grantedTtl !== undefined && { ttlSeconds: this.grantedTtl }),
      ...(this.lastKeepAliveAt !== undefined && { lastKeepAliveAt: this.lastKeepAliveAt }),
      keepalives: this.keepalives,
      losses: this.losses,
      keys: this.desired.size,
      pendingKeys,
      ...(this.lastError !== undefined && { lastError: this.lastError }),
    };
  }

  /**
   * Stops keeping the lease alive; leaves no timer or stream. With `revoke`, revokes the lease so etcd
   * deletes the bound keys now (best effort: if etcd is down they go when the lease expires);
   * without, they go when the lease expires, within a TTL.
   */
  async stop(opts: { revoke: boolean }): Promise<void> {
    if (this.state === 'stopped') return;
    const leaseId = this.leaseId;
    this.state = 'stopped';
    this.clearTimers();
    this.closeStream();
    this.settleFirstGrant?.reject(new Error('the lease keeper was stopped before etcd granted a lease'));
    this.settleWaiters();
    await this.writes;
    // Even a lease we declared lost may still exist in etcd (our timer is stricter than etcd's).
    if (opts.revoke && leaseId !== undefined) {
      try {
        await this.client.leaseClient.leaseRevoke({ ID: leaseId }, deadlineIn(this.callTimeoutMs));
      } catch (err) {
        if (!(err instanceof EtcdLeaseInvalidError)) this.noteError('revoking the lease', err);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Granting

  private async grant(): Promise<void> {
    if (this.state !== 'granting' && this.state !== 'lost') return;
    let id: string;
    let ttl: number;
    const asked = performance.now();
    try {
      const res = await this.client.leaseClient.leaseGrant({ TTL: this.requestedTtl, ID: 0 }, deadlineIn(this.callTimeoutMs));
      if (res.error) throw new Error(`etcd refused the lease: ${res.error}`);
      id = res.ID;
      ttl = Number(res.TTL) || this.requestedTtl;
    } catch (err) {
      this.noteError('granting a lease', err);
      if (err instanceof ClientClosedError) return void this.stop({ revoke: false });
      this.noteRefusal(err);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        void this.grant();
      }, this.backoff.next());
      return;
    }
    if (this.state !== 'granting' && this.state !== 'lost') {
      // Stopped while granting: let the new lease expire (or revoke it, best effort).
      this.client.leaseClient.leaseRevoke({ ID: id }, deadlineIn(this.callTimeoutMs)).catch(() => undefined);
      return;
    }
    this.backoff.reset();
    this.restoring = this.state === 'lost';
    this.leaseId = id;
    this.ownLeases.add(String(id));
    this.grantedTtl = ttl;
    this.state = 'alive';
    this.heldUntil = asked + ttl * 1000;
    this.confirmed();
    this.openStream();
    this.settleFirstGrant?.resolve(id);
    this.settleFirstGrant = undefined;
    void this.flush();
  }

  /** etcd confirmed the lease now: it lives for another TTL, so the loss timer restarts. */
  private confirmed(): void {
    this.lastKeepAliveAt = Date.now();
    clearTimeout(this.lossTimer);
    const leaseId = this.leaseId;
    this.lossTimer = setTimeout(() => {
      this.lossTimer = undefined;
      if (this.leaseId === leaseId) this.declareLost(new Error(`no keepalive of lease ${leaseId} succeeded for ${this.grantedTtl} s (its TTL)`));
    }, this.grantedTtl! * 1000);
  }

  private declareLost(reason: Error): void {
    if (this.state !== 'alive') return;
    this.state = 'lost';
    this.losses++;
    this.lastError = reason.message;
    this.clearTimers();
    this.closeStream();
    // Everything must be written again under the next lease.
    this.written.clear();
    try {
      this.opts.onLost?.(reason);
    } catch {
      // a callback that throws must not stop the keeper
    }
    void this.grant();
  }

  // ---------------------------------------------------------------------------------------------
  // Keepalive stream

  private openStream(): void {
    const leaseId = this.leaseId!;
    const stillOurs = () => this.state === 'alive' && this.leaseId === leaseId;
    this.client.leaseClient.leaseKeepAlive().then(
      (stream) => {
        if (!stillOurs()) {
          stream.on('error', () => undefined);
          stream.end();
          return;
        }
        this.stream = stream;
        this.unanswered = [];
        const broken = (err: Error) => {
          if (this.stream !== stream) return;
          this.noteError('lease keepalive stream', err);
          this.closeStream();
          // The loss timer keeps running meanwhile: the lease is only lost if no keepalive succeeds for a TTL.
          this.streamRetryTimer = setTimeout(() => {
            this.streamRetryTimer = undefined;
            if (stillOurs()) this.openStream();
          }, 200);
        };
        stream.on('data', (res: ILeaseKeepAliveResponse) => {
          if (this.stream !== stream || !stillOurs()) return;
          if (String(res.TTL) === '0' || Number(res.TTL) <= 0) {
            this.declareLost(new EtcdLeaseInvalidError(leaseId));
            return;
          }
          this.keepalives++;
          const sent = this.unanswered.shift();
          if (sent !== undefined) this.heldUntil = Math.max(this.heldUntil ?? 0, sent + Number(res.TTL) * 1000);
          this.confirmed();
        });
        stream.on('error', (err: Error) => broken(err));
        stream.on('end', () => broken(new Error('etcd ended the keepalive stream')));
        const send = () => {
          if (this.stream !== stream) return;
          try {
            this.unanswered.push(performance.now());
            stream.write({ ID: leaseId });
          } catch (err) {
            broken(err as Error);
          }
        };
        send();
        this.keepaliveTimer = setInterval(send, Math.max(100, Math.floor((this.grantedTtl! * 1000) / 3)));
      },
      (err: unknown) => {
        this.noteError('opening the lease keepalive stream', err);
        if (err instanceof ClientClosedError) return void this.stop({ revoke: false });
        this.streamRetryTimer = setTimeout(() => {
          this.streamRetryTimer = undefined;
          if (stillOurs()) this.openStream();
        }, 200);
      },
    );
  }

  private closeStream(): void {
    clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
    const stream = this.stream;
    this.stream = undefined;
    if (!stream) return;
    stream.on('error', () => undefined);
    try {
      stream.end();
    } catch {
      // already closed
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Writes

  private isWritten(key: string): boolean {
    const w = this.written.get(key);
    return w !== undefined && w.leaseId === this.leaseId && w.value === this.desired.get(key);
  }

  /** Writes every bound key not yet written under the current lease, and deletes unbound ones, one by one. */
  private flush(): Promise<void> {
    return this.enqueueWrite(async () => {
      if (this.state !== 'alive') return;
      const leaseId = this.leaseId!;
      const work: Array<[string, string | undefined]> = [...this.toDelete].map((key) => [key, undefined]);
      for (const [key, value] of this.desired) if (!this.isWritten(key)) work.push([key, value]);
      for (const [key, value] of work) {
        try {
          if (value === undefined) {
            if (!this.toDelete.has(key)) continue;
            await this.client.delete().key(key).options(deadlineIn(this.callTimeoutMs)).exec();
            if (!this.desired.has(key)) this.toDelete.delete(key);
            this.written.delete(key);
          } else {
            if (this.desired.get(key) !== value) continue; // superseded meanwhile; the next flush writes it
            if (this.createOnly.has(key)) {
              const existing = await this.createIfAbsent(key, value, leaseId);
              if (existing) {
                this.unbindConflicted(key, existing);
                continue;
              }
              this.createdOnce.add(key);
            } else {
              await this.client.put(key).value(value).lease(leaseId).options(deadlineIn(this.callTimeoutMs)).exec();
            }
            this.written.set(key, { value, leaseId });
          }
          this.settleWaiters();
        } catch (err) {
          this.noteError(`${value === undefined ? 'deleting' : 'writing'} ${key}`, err);
          this.noteRefusal(err);
          if (err instanceof EtcdLeaseInvalidError) {
            if (this.leaseId === leaseId) this.declareLost(new Error(`etcd no longer knows lease ${leaseId}: ${(err as Error).message}`));
          } else if (err instanceof ClientClosedError) {
            void this.stop({ revoke: false });
          } else if (this.state === 'alive' && !this.retryTimer) {
            this.retryTimer = setTimeout(() => {
              this.retryTimer = undefined;
              void this.flush();
            }, this.backoff.next());
          }
          return;
        }
        if (this.state !== 'alive' || this.leaseId !== leaseId) return;
      }
      if (this.pendingWork()) {
        // put/delete calls arrived while writing: their own flush is queued behind this one.
        return;
      }
      this.backoff.reset();
      if (this.restoring && this.state === 'alive' && this.leaseId === leaseId) {
        this.restoring = false;
        try {
          this.opts.onRestored?.(leaseId);
        } catch {
          // a callback that throws must not stop the keeper
        }
      }
    });
  }

  /**
   * Puts a create-only key under `leaseId` if etcd does not have it, or has it under a lease of ours;
   * returns what another writer holds instead (nothing is written then).
   */
  private async createIfAbsent(key: string, value: string, leaseId: string): Promise<ExistingKey | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const put = () => this.client.put(key).value(value).lease(leaseId);
      const created = await this.client.if(key, 'Create', '==', 0).then(put()).else(this.client.get(key)).options(deadlineIn(this.callTimeoutMs)).commit();
      if (created.succeeded) return undefined;
      const kv = created.responses[0]?.response_range?.kvs?.[0];
      if (!kv) continue; // deleted in between: try creating it again
      const existing: ExistingKey = { value: kv.value.toString(), leaseId: String(kv.lease ?? '0'), createRevision: String(kv.create_revision), modRevision: String(kv.mod_revision) };
      if (createOnlyDecision(existing, this.ownLeases) === 'conflict') return existing;
      // Ours under an earlier lease, or under none: move it to this one, unless it changed since we read it.
      const claimed = await this.client.if(key, 'Mod', '==', existing.modRevision).then(put()).options(deadlineIn(this.callTimeoutMs)).commit();
      if (claimed.succeeded) return undefined;
    }
    throw new Error(`${key} keeps changing under a create-only write`);
  }

  private unbindConflicted(key: string, existing: ExistingKey): void {
    const rewrite = this.createdOnce.delete(key);
    this.desired.delete(key);
    this.createOnly.delete(key);
    this.written.delete(key);
    this.conflicts.set(key, existing);
    this.settleWaiters();
    if (!rewrite) return;
    try {
      this.opts.onConflict?.(key, existing);
    } catch {
      // a callback that throws must not stop the keeper
    }
  }

  private pendingWork(): boolean {
    if (this.toDelete.size > 0) return true;
    for (const key of this.desired.keys()) if (!this.isWritten(key)) return true;
    return false;
  }

  private waitUntil(done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ done, resolve }));
  }

  /** etcd refused the credentials: a create-only write waiting on it is told (`refused`); retries go on, for credentials re-read later. */
  private noteRefusal(err: unknown): void {
    if (!(err instanceof EtcdAccessDeniedError)) return;
    this.refusal = err;
    this.settleWaiters();
  }

  private settleWaiters(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) {
      if (w.done()) w.resolve();
      else this.waiters.push(w);
    }
  }

  private enqueueWrite(work: () => Promise<void>): Promise<void> {
    const run = this.writes.then(work);
    this.writes = run.catch(() => undefined);
    return this.writes;
  }

  // ---------------------------------------------------------------------------------------------

  private noteError(what: string, err: unknown): Error {
    const error = err instanceof Error ? err : new Error(String(err));
    this.lastError = `${what}: ${error.message}`;
    try {
      this.opts.onError?.(error);
    } catch {
      // informational only
    }
    return error;
  }

  private clearTimers(): void {
    clearTimeout(this.lossTimer);
    clearTimeout(this.retryTimer);
    clearTimeout(this.streamRetryTimer);
    clearInterval(this.keepaliveTimer);
    this.lossTimer = this.retryTimer = this.streamRetryTimer = this.keepaliveTimer = undefined;
  }
}
