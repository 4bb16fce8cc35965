import type { HostProxy, ProxyRestore } from '../proxy/proxy';
import type { Logger } from './logger';

export interface ProxyWatchOptions {
  /** How often the proxy is checked (ms); its restore takes about a start of HAProxy on top. */
  intervalMs?: number;
  log: Logger;
  /** The proxy was restarted or its files written again: components should be checked at once. */
  onRestored?(outcome: Exclude<ProxyRestore, { action: 'none' }>): void;
  /** A restore failed (the reason), or the proxy is fine again (`undefined`): for the agent's record. */
  onProblem?(reason: string | undefined): void;
}

/**
 * Watches the host's HAProxy between resyncs. HAProxy 2.6's master exits when its worker dies
 * (`no-exit-on-failure` is lost when the master re-executes into wait mode: measured on 2.6.12), and
 * its worker exits when the master dies, so either death takes the listeners down; this restores the
 * proxy from its persisted state within about one interval plus a start.
 */
export class ProxyWatch {
  private timer?: NodeJS.Timeout;
  private busy = false;
  private failing?: string;

  constructor(
    private readonly proxy: HostProxy,
    private readonly opts: ProxyWatchOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.check(), this.opts.intervalMs ?? 250);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One check; restores when needed. Never throws: a failure is logged and reported, and tried again next tick. */
  async check(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      if (await this.proxy.healthy()) return this.clear();
      const outcome = await this.proxy.restore();
      if (outcome.action === 'none') return this.clear();
      if (outcome.action === 'restarted') this.opts.log.warn('HAProxy was down or unreachable: restarted it from its persisted state', { reason: outcome.reason, tookMs: outcome.tookMs, softStopped: outcome.replaced });
      else this.opts.log.warn("HAProxy's state files were gone: written again from the last state known");
      this.clear();
      this.opts.onRestored?.(outcome);
    } catch (err) {
      const reason = `HAProxy is down and could not be restored: ${(err as Error).message}`;
      if (reason !== this.failing) this.opts.log.error(reason);
      this.failing = reason;
      this.opts.onProblem?.(reason);
    } finally {
      this.busy = false;
    }
  }

  private clear(): void {
    if (this.failing === undefined) return;
    this.failing = undefined;
    this.opts.onProblem?.(undefined);
  }
}
