/**
 * How soon a value may be written (see `StatusWriter.set`): at least `spacingMs` after the key's
 * previous write (default: the writer's `minIntervalMs`), and at least `holdMs` after the first
 * value still waiting was set (default 0). A value that may wait rides on the write of one that may not.
 */
export interface StatusPace {
  spacingMs?: number;
  holdMs?: number;
}

/** Where status goes: etcd in the agent, a map in unit tests. */
export interface StatusStore {
  put(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface StatusWriterOptions {
  /** Writes of one key are at least this far apart (ms); the latest value always gets written. */
  minIntervalMs?: number;
  /**
   * Turns a value into the text put, at the moment it is put (the agent dates a status by its
   * write: a value that waited out the spacing says when it was written, not when it was set).
   */
  stamp?: (key: string, value: string) => string;
  /** Pause before retrying after a failed write (ms), doubled up to 5 s. */
  retryMs?: number;
  onError?(key: string, err: Error): void;
}

/**
 * Writes status records to etcd without flooding it and without losing the last word: values for
 * one key are coalesced (only the latest is written), writes of a key are spaced by
 * `minIntervalMs`, an unchanged value is never written again, and a failed write (etcd down) is
 * retried until it lands. Nothing is written while nothing changes.
 */
export class StatusWriter {
  private readonly written = new Map<string, string>();
  /** The text last put at each key (the written value, stamped): what a watch shows of our own writes. */
  private readonly stored = new Map<string, string>();
  private readonly pending = new Map<string, string>();
  /** The most urgent pace asked since the key's last write, and when its first waiting value was set. */
  private readonly pace = new Map<string, { spacingMs: number; holdMs: number; since: number }>();
  /** When each key's timer fires. */
  private readonly dueAt = new Map<string, number>();
  private readonly lastWriteAt = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly inFlight = new Set<string>();
  private stopped = false;

  constructor(
    private readonly store: StatusStore,
    private readonly opts: StatusWriterOptions = {},
  ) {}

  /**
   * Records the latest value of `key`; it is written soon unless it equals what was written.
   * `pace`: how long it may wait (a step of work under way, a detail nobody waits for), folding
   * into the next value; the default is as soon as `minIntervalMs` allows.
   */
  set(key: string, value: string, pace: StatusPace = {}): void {
    if (this.stopped) return;
    if (this.written.get(key) === value && !this.pending.has(key)) return;
    this.pending.set(key, value);
    const asked = { spacingMs: pace.spacingMs ?? this.opts.minIntervalMs ?? 50, holdMs: pace.holdMs ?? 0 };
    const was = this.pace.get(key);
    this.pace.set(key, was ? { spacingMs: Math.min(was.spacingMs, asked.spacingMs), holdMs: Math.min(was.holdMs, asked.holdMs), since: was.since } : { ...asked, since: Date.now() });
    // A value that may not wait as long as the one it replaces: the timer is brought forward.
    const timer = this.timers.get(key);
    if (timer && this.dueAt.get(key)! > this.due(key, 0)) {
      clearTimeout(timer);
      this.timers.delete(key);
    }
    this.schedule(key, 0);
  }

  /**
   * The record is gone for good (its component left the config): nothing pending is written, and
   * the key is deleted (once; a failure is reported, the key is left for `gantry status` to show).
   */
  async remove(key: string): Promise<void> {
    this.pending.delete(key);
    this.pace.delete(key);
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    this.written.delete(key);
    this.stored.delete(key);
    try {
      await this.store.delete(key);
    } catch (err) {
      this.opts.onError?.(key, err as Error);
    }
  }

  /**
   * What etcd now holds at `key` (undefined: deleted), seen by a watch. If it is not what this
   * writer last wrote there, and nothing newer is on its way, the last value is written again: a
   * record only this agent may write is never left as someone else wrote it. True if it will be.
   */
  reassert(key: string, stored: string | undefined): boolean {
    const mine = this.written.get(key);
    if (this.stopped || mine === undefined || this.stored.get(key) === stored || this.pending.has(key) || this.inFlight.has(key)) return false;
    this.written.delete(key);
    this.set(key, mine);
    return true;
  }

  /** Forgets what was written, so everything set again is written again (after etcd lost data). */
  invalidate(): void {
    this.written.clear();
  }

  /** Resolves once every pending value has been written (or the writer stopped); nothing waits out its pace. */
  async flush(timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const key of this.pending.keys()) {
      this.pace.delete(key);
      clearTimeout(this.timers.get(key));
      this.timers.delete(key);
      this.schedule(key, 0);
    }
    while ((this.pending.size > 0 || this.inFlight.size > 0) && Date.now() < deadline && !this.stopped) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  /** When the key's pending value may be written (ms since the epoch). */
  private due(key: string, retryDelay: number): number {
    const pace = this.pace.get(key) ?? { spacingMs: this.opts.minIntervalMs ?? 50, holdMs: 0, since: 0 };
    return Math.max(Date.now() + retryDelay, (this.lastWriteAt.get(key) ?? 0) + pace.spacingMs, pace.since + pace.holdMs);
  }

  private schedule(key: string, retryDelay: number): void {
    if (this.timers.has(key) || this.inFlight.has(key)) return;
    const at = this.due(key, retryDelay);
    this.dueAt.set(key, at);
    this.timers.set(key, setTimeout(() => void this.write(key, retryDelay), Math.max(0, at - Date.now())));
  }

  private async write(key: string, lastRetryDelay: number): Promise<void> {
    this.timers.delete(key);
    const value = this.pending.get(key);
    if (value === undefined || this.stopped) return;
    this.pending.delete(key);
    const pace = this.pace.get(key);
    this.pace.delete(key);
    this.inFlight.add(key);
    try {
      if (this.written.get(key) !== value) {
        const text = this.opts.stamp ? this.opts.stamp(key, value) : value;
        await this.store.put(key, text);
        this.written.set(key, value);
        this.stored.set(key, text);
        this.lastWriteAt.set(key, Date.now());
      }
      this.inFlight.delete(key);
      if (this.pending.has(key)) this.schedule(key, 0);
    } catch (err) {
      this.inFlight.delete(key);
      this.opts.onError?.(key, err as Error);
      if (!this.pending.has(key)) this.pending.set(key, value);
      if (pace && !this.pace.has(key)) this.pace.set(key, pace);
      const retry = Math.min(5_000, lastRetryDelay ? lastRetryDelay * 2 : (this.opts.retryMs ?? 200));
      this.schedule(key, retry);
    }
  }
}
