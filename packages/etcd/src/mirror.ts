import type { Namespace } from 'etcd3';
import type { BackoffOptions } from './backoff';
import { PrefixWatcher, type PrefixChange, type PrefixWatcherStatus } from './prefix-watcher';

/** One key that changed in the mirror: `after` undefined means it is gone. */
export interface MirrorChange<T> {
  key: string;
  before?: T;
  after?: T;
}

export interface MirrorOptions<T> {
  /** An etcd3 client (or namespace of one); the mirror does not own it. */
  client: Namespace;
  /** Keys starting with any of these are mirrored (one watch each; they should not overlap). */
  prefixes: readonly string[];
  /**
   * Turns a stored value into what the mirror keeps; called once per distinct value of a key.
   * undefined: the key is not kept. Must not throw — a throw is reported and the key is left out.
   */
  decode: (key: string, text: string) => T | undefined;
  /** Told about each problem (a lost watch, a listener that threw). Informational only. */
  onError?: (err: Error, prefix: string) => void;
  callTimeoutMs?: number;
  backoff?: BackoffOptions;
}

interface Entry<T> {
  text: string;
  modRevision: number;
  record: T;
}

/**
 * An informer over etcd prefixes (client-go's shape): one watch per prefix, one local store of
 * decoded records that every reader shares, and listeners told of each change. What etcd's
 * watches get wrong is PrefixWatcher's job (resync from a fresh read after any disconnect or
 * compaction); the mirror turns each resync into the real differences, so a listener sees a key
 * change only when its value did, and decodes each value once however often it is read.
 *
 * Listeners run synchronously after every change, and once when the store first becomes whole
 * (every prefix read), even if nothing was there; one that throws is reported to `onError` and
 * the others still run: a bad listener never stalls the watch or the process.
 */
export class Mirror<T> {
  private readonly store = new Map<string, Entry<T>>();
  private readonly watchers: Array<{ prefix: string; watcher: PrefixWatcher }>;
  private readonly listeners = new Set<(changes: MirrorChange<T>[]) => void>();
  private readonly loaded = new Set<string>();
  /** Keys this process deleted (see `assume`), with the revision: older puts arriving late are stale. */
  private readonly tombstones = new Map<string, number>();
  /**
   * While set, the prefixes are being read at one revision (at the start, and after any of them
   * re-reads): `revision` that of the first read, `read` the prefixes read at it, `held` the changes
   * their watches brought meanwhile, applied in revision order once every prefix is read. Until
   * then the store is no whole view (`synced` is false): prefixes read at different revisions
   * could show a host its own key gone but not yet the fleet's new version written before it.
   */
  private round?: { revision?: number; read: Set<string>; held: Map<string, PrefixChange[]> };
  private stopping = false;
  private readonly startWaiters = new Set<() => void>();

  constructor(private readonly opts: MirrorOptions<T>) {
    const aligned = opts.prefixes.length > 1;
    if (aligned) this.round = { read: new Set(), held: new Map() };
    this.watchers = opts.prefixes.map((prefix) => ({
      prefix,
      watcher: new PrefixWatcher({
        client: opts.client,
        prefix,
        callTimeoutMs: opts.callTimeoutMs,
        backoff: opts.backoff,
        onSnapshot: (kvs, revision, modRevisions) => this.snapshot(prefix, kvs, revision, modRevisions),
        onChange: (change) => this.change(prefix, change),
        onError: (err) => this.watcherError(prefix, err),
        ...(aligned && { readRevision: () => this.round?.revision, onResync: () => this.rereading(prefix) }),
      }),
    }));
  }

  /** Resolves once every prefix has been read (at one revision) and watched (retrying while etcd is unreachable), or on stop. */
  async start(): Promise<void> {
    await Promise.all(this.watchers.map((w) => w.watcher.start()));
    if (this.synced || this.stopping) return;
    await new Promise<void>((resolve) => {
      this.startWaiters.add(resolve);
      const off = this.subscribe(() => {
        if (!this.synced) return;
        off();
        this.startWaiters.delete(resolve);
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const resolve of this.startWaiters) resolve();
    this.startWaiters.clear();
    await Promise.all(this.watchers.map((w) => w.watcher.stop()));
    this.listeners.clear();
  }

  /** Every prefix has been read, at one revision since any of them last re-read: the store is a whole view, not a partial one. */
  get synced(): boolean {
    return this.loaded.size === this.watchers.length && !this.round;
  }

  /** A prefix drops its watch to read again: every prefix is read again, at one revision. */
  private rereading(prefix: string): void {
    if (!this.round) return this.beginRound(prefix, 're-reading with the other prefixes at one revision');
    this.round.read.delete(prefix);
    this.round.held.delete(prefix);
  }

  /** A new round, its revision that of the next read; every prefix but `prefix` (re-reading already) is read again. */
  private beginRound(prefix: string, reason: string): void {
    this.round = { read: new Set(), held: new Map() };
    for (const w of this.watchers) if (w.prefix !== prefix) w.watcher.resyncNow(reason);
  }

  private snapshot(prefix: string, kvs: Map<string, string>, revision: number, modRevisions: Map<string, number>): void {
    const round = this.round;
    if (!round) return this.replace(prefix, kvs, modRevisions);
    round.revision ??= revision;
    // Read before the round's revision was chosen, at another: read again at it.
    if (revision !== round.revision) return this.watchers.find((w) => w.prefix === prefix)!.watcher.resyncNow(`re-reading at revision ${round.revision}, that of the other prefixes`);
    this.replace(prefix, kvs, modRevisions);
    round.read.add(prefix);
    if (round.read.size < this.watchers.length) return;
    // Every prefix read at one revision: what their watches brought since, in revision order, then the view is whole.
    this.round = undefined;
    for (const change of [...round.held.values()].flat().sort((a, b) => a.revision - b.revision)) this.apply(change);
    this.notify([], true);
  }

  private change(prefix: string, change: PrefixChange): void {
    const round = this.round;
    if (round?.read.has(prefix)) {
      const held = round.held.get(prefix);
      if (held) held.push(change);
      else round.held.set(prefix, [change]);
      return;
    }
    this.apply(change);
  }

  private watcherError(prefix: string, err: Error): void {
    // The round's revision is compacted away: a new round at the latest.
    if (this.round?.revision !== undefined && /compacted/i.test(err.message)) this.beginRound(prefix, 're-reading at a newer revision (the one chosen was compacted)');
    this.report(err, prefix);
  }

  /** Calls `listener` after every change from now on; returns the unsubscribe. */
  subscribe(listener: (changes: MirrorChange<T>[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get(key: string): T | undefined {
    return this.store.get(key)?.record;
  }

  /** The mod revision of a key's current value (0 when absent). */
  modRevision(key: string): number {
    return this.store.get(key)?.modRevision ?? 0;
  }

  /** Every record, or those whose key starts with `prefix`. */
  *entries(prefix = ''): IterableIterator<[string, T]> {
    for (const [key, entry] of this.store) if (key.startsWith(prefix)) yield [key, entry.record];
  }

  get size(): number {
    return this.store.size;
  }

  status(): Array<PrefixWatcherStatus & { prefix: string }> {
    return this.watchers.map((w) => ({ prefix: w.prefix, ...w.watcher.status() }));
  }

  /**
   * Records a write this process committed at `revision` (text undefined: a delete) before its
   * watch event arrives, so the next decision does not plan from the value before it. Events older
   * than what the store holds never overwrite it; the event of this write itself changes nothing.
   */
  assume(key: string, text: string | undefined, revision: number): void {
    if (text === undefined) {
      this.tombstones.set(key, revision);
      this.apply({ type: 'delete', key, revision });
    } else {
      this.tombstones.delete(key);
      this.apply({ type: 'put', key, value: text, revision });
    }
  }

  /** A fresh read of one prefix replaces what the store held under it; only the differences are told. */
  private replace(prefix: string, kvs: Map<string, string>, modRevisions: Map<string, number>): void {
    const changes: MirrorChange<T>[] = [];
    for (const [key, entry] of this.store) {
      if (key.startsWith(prefix) && !kvs.has(key)) {
        this.store.delete(key);
        changes.push({ key, before: entry.record });
      }
    }
    for (const [key, text] of kvs) {
      const change = this.set(key, text, modRevisions.get(key) ?? 0);
      if (change) changes.push(change);
    }
    for (const key of this.tombstones.keys()) if (key.startsWith(prefix)) this.tombstones.delete(key);
    const wasSynced = this.synced;
    this.loaded.add(prefix);
    // Becoming whole is news even when the last prefix read was empty: listeners wait for it.
    this.notify(changes, !wasSynced && this.synced);
  }

  private apply(change: PrefixChange): void {
    const known = Math.max(this.store.get(change.key)?.modRevision ?? 0, this.tombstones.get(change.key) ?? 0);
    if (change.revision < known) return; // older than a write this process already applied
    if (change.type === 'put') {
      const c = this.set(change.key, change.value, change.revision);
      this.notify(c ? [c] : []);
      return;
    }
    const entry = this.store.get(change.key);
    if (!entry) return;
    this.store.delete(change.key);
    this.notify([{ key: change.key, before: entry.record }]);
  }

  private set(key: string, text: string, modRevision: number): MirrorChange<T> | undefined {
    const previous = this.store.get(key);
    if (previous && previous.text === text) {
      previous.modRevision = modRevision || previous.modRevision;
      return undefined;
    }
    let record: T | undefined;
    try {
      record = this.opts.decode(key, text);
    } catch (err) {
      this.report(new Error(`decoding ${key} threw: ${(err as Error)?.message ?? String(err)}`), key);
    }
    if (record === undefined) {
      if (!previous) return undefined;
      this.store.delete(key);
      return { key, before: previous.record };
    }
    this.store.set(key, { text, modRevision, record });
    return { key, before: previous?.record, after: record };
  }

  private notify(changes: MirrorChange<T>[], always = false): void {
    if (changes.length === 0 && !always) return;
    for (const listener of [...this.listeners]) {
      try {
        listener(changes);
      } catch (err) {
        this.report(err instanceof Error ? err : new Error(String(err)), 'listener');
      }
    }
  }

  private report(err: Error, where: string): void {
    try {
      this.opts.onError?.(err, where);
    } catch {
      // an onError that throws must not break the mirror
    }
  }
}
