/** Where status goes: etcd in the agent, a map in unit tests. */
export interface StatusStore {
  put(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface StatusWriterOptions {
  /** Writes of one key are at least this far apart (ms); the latest value always gets written. */
  minIntervalMs?: number;
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
  private readonly pending = new Map<string, string>();
  private readonly lastWriteAt = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly inFlight = new Set<string>();
  private stopped = false;

  constructor(
    private readonly store: StatusStore,
    private readonly opts: StatusWriterOptions = {},
  ) {}

  /** Records the latest value of `key`; it is written soon unless it equals what was written. */
  set(key: string, value: string): void {
    if (this.stopped) return;
    if (this.written.get(key) === value && !this.pending.has(key)) return;
    this.pending.set(key, value);
    this.schedule(key, 0);
  }

  /**
   * The record is gone for good (its component left the config): nothing pending is written, and
   * the key is deleted (once; a failure is reported, the key is left for `gantry status` to show).
   */
  async remove(key: string): Promise<void> {
    this.pending.delete(key);
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    this.written.delete(key);
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
    if (this.stopped || mine === undefined || mine === stored || this.pending.has(key) || this.inFlight.has(key)) return false;
    this.written.delete(key);
    this.set(key, mine);
    return true;
  }

  /** Forgets what was written, so everything set again is written again (after etcd lost data). */
  invalidate(): void {
    this.written.clear();
  }

  /** Resolves once every pending value has been written (or the writer stopped). */
  async flush(timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.pending.size > 0 || this.inFlight.size > 0) && Date.now() < deadline && !this.stopped) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  private schedule(key: string, retryDelay: number): void {
    if (this.timers.has(key) || this.inFlight.has(key)) return;
    const spacing = (this.lastWriteAt.get(key) ?? 0) + (this.opts.minIntervalMs ?? 50) - Date.now();
    const delay = Math.max(0, spacing, retryDelay);
    this.timers.set(key, setTimeout(() => void this.write(key, retryDelay), delay));
  }

  private async write(key: string, lastRetryDelay: number): Promise<void> {
    this.timers.delete(key);
    const value = this.pending.get(key);
    if (value === undefined || this.stopped) return;
    this.pending.delete(key);
    this.inFlight.add(key);
    try {
      if (this.written.get(key) !== value) {
        await this.store.put(key, value);
        this.written.set(key, value);
        this.lastWriteAt.set(key, Date.now());
      }
      this.inFlight.delete(key);
      if (this.pending.has(key)) this.schedule(key, 0);
    } catch (err) {
      this.inFlight.delete(key);
      this.opts.onError?.(key, err as Error);
      if (!this.pending.has(key)) this.pending.set(key, value);
      const retry = Math.min(5_000, lastRetryDelay ? lastRetryDelay * 2 : (this.opts.retryMs ?? 200));
      this.schedule(key, retry);
    }
  }
}
