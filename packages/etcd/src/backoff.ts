/** Options for {@link Backoff}. */
export interface BackoffOptions {
  /** First delay (ms). Default 100. */
  minMs?: number;
  /** Largest delay (ms). Default 5000. */
  maxMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /** Each delay is randomised within ±jitter of itself (0..1) so that a fleet does not retry in lockstep. Default 0.2. */
  jitter?: number;
  /** Source of randomness in [0, 1), for tests. */
  random?: () => number;
}

/**
 * Capped exponential backoff: 100 ms, 200 ms, 400 ms, … up to 5 s by default. `next()` returns the
 * delay to wait before the next attempt; `reset()` after a success starts again from the minimum.
 */
export class Backoff {
  private readonly minMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;
  private readonly random: () => number;
  private attempt = 0;

  constructor(opts: BackoffOptions = {}) {
    this.minMs = opts.minMs ?? 100;
    this.maxMs = opts.maxMs ?? 5000;
    this.factor = opts.factor ?? 2;
    this.jitter = opts.jitter ?? 0.2;
    this.random = opts.random ?? Math.random;
    if (!(this.minMs > 0) || !(this.maxMs >= this.minMs)) throw new RangeError(`backoff needs 0 < minMs <= maxMs (got ${this.minMs}, ${this.maxMs})`);
    if (!(this.factor >= 1)) throw new RangeError(`backoff factor must be >= 1 (got ${this.factor})`);
    if (!(this.jitter >= 0 && this.jitter < 1)) throw new RangeError(`backoff jitter must be in [0, 1) (got ${this.jitter})`);
  }

  /** The delay before the next attempt (ms), growing with every call up to the cap. */
  next(): number {
    const base = Math.min(this.maxMs, this.minMs * this.factor ** this.attempt);
    if (base < this.maxMs) this.attempt++;
    const spread = base * this.jitter * (2 * this.random() - 1);
    return Math.round(Math.min(this.maxMs, Math.max(this.minMs, base + spread)));
  }

  /** Attempts made since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}
