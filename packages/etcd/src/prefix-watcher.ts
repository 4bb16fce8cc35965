import { ClientClosedError, Range, type IWatchResponse, type Namespace, type Watcher } from 'etcd3';
import { Backoff, type BackoffOptions } from './backoff';
import { DEFAULT_CALL_TIMEOUT_MS, deadlineIn } from './client';
import { toChanges, type PrefixChange } from './watch-events';

export type { PrefixChange } from './watch-events';

export interface PrefixWatcherOptions {
  /** An etcd3 client (or namespace of one); the watcher does not own it. */
  client: Namespace;
  /** Keys starting with this (non-empty) are watched. */
  prefix: string;
  /**
   * Everything under the prefix at `revision`. Called first, then again after every resync: the map
   * replaces whatever the consumer knew, so consumers reconcile from it (level-triggered).
   */
  onSnapshot: (kvs: Map<string, string>, revision: number, modRevisions: Map<string, number>) => void | Promise<void>;
  /** Each change after the last snapshot, in revision order. Awaited before the next delivery. */
  onChange: (change: PrefixChange) => void | Promise<void>;
  /** Told about each problem (failed read, lost watch, a callback that threw). Informational only. */
  onError?: (err: Error) => void;
  /** Deadline of each read of the prefix, and how long a new watch may take to be confirmed (ms). Default 5000. */
  callTimeoutMs?: number;
  /** Delay between resync attempts. Default 100 ms doubling to 5 s. */
  backoff?: BackoffOptions;
  /** Keys per range request when reading the prefix (all pages at one revision). Default 1000. */
  pageSize?: number;
  /**
   * The revision to read the prefix at, if one is asked (a mirror reading all its prefixes at one
   * revision); undefined: the latest. A compacted one fails the read (reported to `onError`).
   */
  readRevision?: () => number | undefined;
  /** Told each time the watcher drops its watch to read the prefix again (before the read). */
  onResync?: () => void;
}

export interface PrefixWatcherStatus {
  /** A watch is confirmed by etcd and nothing has gone wrong with it since. */
  connected: boolean;
  /** The revision the consumer's view is current to: that of the last snapshot or change it was given (and took without throwing). 0 before the first. */
  lastRevision: number;
  lastError?: string;
  /** Snapshots delivered after the first: how many times the watcher re-read the prefix. */
  resyncs: number;
  /** Why the last resync happened: `watch stream lost: ...`, `watch canceled by etcd ...`, ... */
  lastResyncReason?: string;
  /** The watcher gave up for good (stopped, or its client was closed). */
  stopped: boolean;
}

/**
 * Watches a prefix without ever missing a change — the traps of etcd3 1.1.2's Watcher are kept inside:
 *
 * - etcd3's watcher resumes on its own after a reconnect from a revision it updates from response
 *   headers, which can skip events; and when its start revision has been compacted, etcd cancels the
 *   watch and etcd3 just emits 'error' (with no listener, that throws inside etcd3's stream handler).
 *   So this never lets an etcd3 watcher resume: on 'disconnected', 'error', 'end', a cancel, or a
 *   watch that is not confirmed in time, it drops the watcher, re-reads the whole prefix (a consistent
 *   snapshot with its revision → `onSnapshot`), and watches again from that revision + 1. Retries back
 *   off from 100 ms to 5 s.
 * - It tracks the revision itself, from the snapshot and from each event.
 * - No callback error or etcd error ever escapes into the process: callbacks that throw are reported to
 *   `onError` and answered with a resync, so the consumer gets a fresh snapshot to reconcile from.
 *
 * Stop it before closing its client: grpc-js keeps open streams running after `close()` (measured:
 * ~10 s), and only then does the watcher see the client is closed and give up.
 */
export class PrefixWatcher {
  private readonly client: Namespace;
  private readonly prefix: string;
  private readonly callTimeoutMs: number;
  private readonly pageSize: number;
  private readonly backoff: Backoff;
  private readonly maxBackoffMs: number;

  /** Bumped on every (re)sync and on stop: work from an older generation is stale and ignored. */
  private generation = 0;
  private watcher?: { w: Watcher; detach: () => void };
  private retryTimer?: NodeJS.Timeout;
  private watchdog?: NodeJS.Timeout;
  private deliveries: Promise<void> = Promise.resolve();
  private started = false;
  private stopped = false;
  private healthySince?: number;
  private firstSync?: Promise<void>;
  private resolveFirstSync?: () => void;

  private connected = false;
  private lastRevision = 0;
  private snapshots = 0;
  private lastError?: string;
  private lastResyncReason?: string;

  constructor(private readonly opts: PrefixWatcherOptions) {
    if (!opts.prefix) throw new RangeError('PrefixWatcher needs a non-empty prefix');
    this.client = opts.client;
    this.prefix = opts.prefix;
    this.callTimeoutMs = opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.pageSize = opts.pageSize ?? 1000;
    this.backoff = new Backoff({ minMs: 100, maxMs: 5000, ...opts.backoff });
    this.maxBackoffMs = opts.backoff?.maxMs ?? 5000;
  }

  /**
   * Reads the prefix, delivers the snapshot and starts watching. Resolves once the first snapshot is
   * delivered and its watch confirmed — retrying while etcd is unreachable, so it may take a while —
   * or when `stop()` is called first. Never rejects.
   */
  start(): Promise<void> {
    if (!this.started) {
      this.started = true;
      this.firstSync = new Promise((resolve) => (this.resolveFirstSync = resolve));
      void this.sync();
    }
    return this.firstSync!;
  }

  status(): PrefixWatcherStatus {
    return {
      connected: this.connected,
      lastRevision: this.lastRevision,
      ...(this.lastError !== undefined && { lastError: this.lastError }),
      resyncs: Math.max(0, this.snapshots - 1),
      ...(this.lastResyncReason !== undefined && { lastResyncReason: this.lastResyncReason }),
      stopped: this.stopped,
    };
  }

  /** Stops watching; no callback runs after this resolves, and no timer of this watcher is left. */
  async stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.generation++;
      this.connected = false;
      this.clearTimers();
      this.dropWatcher();
      this.resolveFirstSync?.();
    }
    await this.deliveries;
  }

  /** One attempt: snapshot, deliver, watch. On failure, schedules the next attempt. */
  private async sync(): Promise<void> {
    const gen = ++this.generation;
    let snapshot: { kvs: Map<string, string>; modRevisions: Map<string, number>; revision: number };
    try {
      snapshot = await this.readPrefix();
    } catch (err) {
      if (gen === this.generation) this.retryLater(`reading ${this.prefix} failed`, err);
      return;
    }
    if (gen !== this.generation) return;
    this.snapshots++;
    this.deliver(gen, () => this.opts.onSnapshot(snapshot.kvs, snapshot.revision, snapshot.modRevisions), 'onSnapshot', snapshot.revision);
    this.watchFrom(gen, snapshot.revision);
  }

  /** All keys under the prefix at one revision, read in pages. */
  private async readPrefix(): Promise<{ kvs: Map<string, string>; modRevisions: Map<string, number>; revision: number }> {
    const { end } = Range.prefix(this.prefix);
    const kvs = new Map<string, string>();
    const modRevisions = new Map<string, number>();
    let start: Buffer = Buffer.from(this.prefix);
    let revision: number | undefined = this.opts.readRevision?.();
    for (;;) {
      const builder = this.client.getAll().inRange({ start, end }).limit(this.pageSize).options(deadlineIn(this.callTimeoutMs));
      if (revision !== undefined) builder.revision(revision);
      const res = await builder.exec();
      revision ??= Number(res.header.revision);
      for (const kv of res.kvs) {
        kvs.set(kv.key.toString(), kv.value.toString());
        modRevisions.set(kv.key.toString(), Number(kv.mod_revision));
      }
      if (!res.more || res.kvs.length === 0) return { kvs, modRevisions, revision };
      start = Buffer.concat([res.kvs[res.kvs.length - 1]!.key, Buffer.from([0])]);
    }
  }

  private watchFrom(gen: number, snapshotRevision: number): void {
    let w: Watcher;
    try {
      w = this.client
        .watch()
        .prefix(this.prefix)
        .startRevision(String(snapshotRevision + 1))
        .watcher();
    } catch (err) {
      this.retryLater('creating the watch failed', err);
      return;
    }
    const current = () => gen === this.generation && !this.stopped;
    const onConnected = () => {
      if (!current()) return;
      clearTimeout(this.watchdog);
      this.watchdog = undefined;
      this.connected = true;
      this.healthySince = Date.now();
      void this.deliveries.then(() => this.resolveFirstSync?.());
    };
    const onData = (res: IWatchResponse) => {
      if (!current()) return;
      // etcd3 rethrows a throw from a 'data' listener on a fresh tick, where it would crash the process.
      try {
        for (const change of toChanges(res.events, snapshotRevision)) this.deliver(gen, () => this.opts.onChange(change), 'onChange', change.revision);
        // A progress notification (no events; etcd sends them only to watches that are caught up) says
        // nothing changed up to the header's revision.
        if (res.events.length === 0) this.deliver(gen, () => undefined, 'progress', Number(res.header.revision));
      } catch (err) {
        this.resync('a watch response could not be read', err instanceof Error ? err : new Error(String(err)));
      }
    };
    const onError = (err: Error) => current() && this.resync(`watch canceled by etcd (compacted start revision, or another cancel): ${err.message}`, err);
    const onDisconnected = (err: Error) => current() && this.resync(`watch stream lost: ${err?.message ?? 'disconnected'}`, err);
    const onEnd = () => current() && this.resync('watch ended');
    w.on('connected', onConnected);
    w.on('data', onData);
    w.on('error', onError);
    w.on('disconnected', onDisconnected);
    w.on('end', onEnd);
    const detach = () => {
      w.off('connected', onConnected);
      w.off('data', onData);
      w.off('error', onError);
      w.off('disconnected', onDisconnected);
      w.off('end', onEnd);
    };
    this.watcher = { w, detach };
    // etcd3 has no timeout on creating a watch: an unreachable (not refusing) etcd would leave it pending forever.
    this.watchdog = setTimeout(() => {
      this.watchdog = undefined;
      if (current() && !this.connected) this.resync(`watch not confirmed by etcd within ${this.callTimeoutMs} ms`);
    }, this.callTimeoutMs);
  }

  /** Reads the prefix again and watches from there (a mirror aligning its prefixes); no-op once stopped or before start. */
  resyncNow(reason: string): void {
    if (!this.started || this.stopped) return;
    this.lastResyncReason = reason;
    this.abandonWatch();
    void this.sync();
  }

  /** Ends the current generation's watch and timers before a re-read (its late deliveries are ignored). */
  private abandonWatch(): void {
    this.generation++;
    this.opts.onResync?.();
    this.connected = false;
    this.clearTimers();
    this.dropWatcher();
  }

  /** Drops the watch and schedules a fresh snapshot + watch. */
  private resync(reason: string, err?: Error): void {
    this.lastResyncReason = reason;
    this.retryLater(reason, err);
  }

  private retryLater(what: string, err?: unknown): void {
    if (this.stopped) return;
    this.abandonWatch();
    const error = err instanceof Error ? err : new Error(what);
    this.lastError = err instanceof Error && err.message !== what ? `${what}: ${err.message}` : what;
    this.report(error);
    if (err instanceof ClientClosedError) {
      // Nobody will ever answer: give up rather than retry forever.
      this.lastError = `stopped: the etcd client was closed (${this.lastError})`;
      void this.stop();
      return;
    }
    if (this.healthySince !== undefined && Date.now() - this.healthySince >= this.maxBackoffMs) this.backoff.reset();
    this.healthySince = undefined;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.sync();
    }, this.backoff.next());
  }

  /**
   * Runs a callback in order after the ones before it, then counts the consumer's view current to
   * `revision`. A throw is reported and answered with a resync.
   */
  private deliver(gen: number, callback: () => void | Promise<void>, name: string, revision: number): void {
    this.deliveries = this.deliveries.then(async () => {
      if (gen !== this.generation || this.stopped) return; // superseded by a newer snapshot
      try {
        await callback();
        if (gen === this.generation) this.lastRevision = Math.max(this.lastRevision, revision);
      } catch (err) {
        if (gen === this.generation && !this.stopped) this.resync(`${name} threw`, err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  private dropWatcher(): void {
    const current = this.watcher;
    this.watcher = undefined;
    if (!current) return;
    current.detach();
    // etcd3 may still emit 'error' on it (e.g. a late cancel); an 'error' without a listener would throw.
    current.w.on('error', () => undefined);
    try {
      current.w.cancel().catch(() => undefined);
    } catch {
      // etcd3's detach can throw if its stream is in a state it did not expect; the watcher is gone either way.
    }
  }

  private clearTimers(): void {
    clearTimeout(this.retryTimer);
    clearTimeout(this.watchdog);
    this.retryTimer = undefined;
    this.watchdog = undefined;
  }

  private report(err: Error): void {
    try {
      this.opts.onError?.(err);
    } catch {
      // an onError that throws must not break the watcher
    }
  }
}
