import type { Etcd3 } from 'etcd3';
import { LeaseKeeper, PrefixWatcher } from '@gantry/etcd';
import type { CoordinatorRecord } from '@gantry/spec';
import type { Logger } from '../agent/logger';

export interface ElectionOptions {
  etcd: Etcd3;
  /** The election key: `keys.coordinator(project)`. */
  key: string;
  hostId: string;
  leaseTtlS: number;
  log: Logger;
  /** Told when this candidate becomes leader, or stops being it. */
  onChange?: (leader: boolean) => void;
}

/**
 * Campaigns for the coordinator key: a record bound to this candidate's own lease, written only
 * if no lease holds the key (absent, or left by hand without one: never a live leader's). Watches the key and campaigns again when it disappears (the leader's lease
 * expired or was revoked). `leaderValue` is the exact stored string, for fenced writes.
 */
export class Election {
  private readonly lease: LeaseKeeper;
  private readonly watcher: PrefixWatcher;
  private current?: string;
  private mine?: string;
  private stopped = false;
  private campaigning = false;
  private again = false;
  private leader = false;

  constructor(private readonly opts: ElectionOptions) {
    this.lease = new LeaseKeeper(opts.etcd, {
      ttlSeconds: opts.leaseTtlS,
      onLost: () => {
        this.mine = undefined;
        this.update();
      },
      onRestored: () => void this.campaign(),
    });
    this.watcher = new PrefixWatcher({
      client: opts.etcd,
      prefix: opts.key,
      onSnapshot: (kvs) => this.seen(kvs.get(opts.key)),
      onChange: (c) => this.seen(c.key === opts.key ? (c.type === 'put' ? c.value : undefined) : this.current),
      onError: (err) => opts.log.debug('coordinator election watch interrupted', { error: err.message }),
    });
  }

  async start(): Promise<void> {
    void this.lease.start().then(() => this.campaign(), () => undefined);
    await this.watcher.start();
  }

  /**
   * We hold the key, and by our own clock our lease surely still holds it: the time of the last
   * keepalive etcd answered (its send time) plus the TTL, less a margin, is still ahead. Checked at
   * the moment of asking, never left to a callback: a leader that was paused (SIGSTOP, a freeze)
   * past its TTL stops acting as soon as it runs again — before the timers, the lease's `lost` and
   * the watch of the key have told it anything — and a write already under way is still fenced by
   * etcd.
   */
  isLeader(): boolean {
    return this.leader && this.lease.surelyHeld(this.marginMs);
  }

  /** The stored record while we lead (see `isLeader`). */
  get leaderValue(): string | undefined {
    return this.isLeader() ? this.mine : undefined;
  }

  /** A tenth of the TTL: etcd's and our clocks may run at slightly different rates. */
  private get marginMs(): number {
    return this.opts.leaseTtlS * 100;
  }

  /** We were told (by a failed fence) that we no longer lead: campaign again if the key is free. */
  lostFence(): void {
    this.mine = undefined;
    this.update();
    void this.campaign();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.watcher.stop();
    // Revoking the lease deletes our record at once: another candidate takes over without waiting a TTL.
    await this.lease.stop({ revoke: true });
    this.mine = undefined;
    this.update();
  }

  private seen(value: string | undefined): void {
    this.current = value;
    // Absent, or anything but our own record: campaign. The campaign only wins where no lease holds
    // the key — a live leader's record always has one; garbage written by hand never does.
    if (value === undefined || value !== this.mine) void this.campaign();
    this.update();
  }

  private update(): void {
    const leader = !this.stopped && this.mine !== undefined && this.current === this.mine;
    if (leader === this.leader) return;
    this.leader = leader;
    this.opts.log.info(leader ? 'elected rollout coordinator' : 'no longer rollout coordinator', { key: this.opts.key });
    this.opts.onChange?.(leader);
  }

  private async campaign(): Promise<void> {
    if (this.stopped) return;
    if (this.campaigning) {
      this.again = true;
      return;
    }
    this.campaigning = true;
    try {
      do {
        this.again = false;
        const leaseId = this.lease.status().leaseId;
        if (leaseId === undefined || this.lease.status().state !== 'alive') break;
        const record: CoordinatorRecord = { hostId: this.opts.hostId, since: new Date().toISOString(), leaseId };
        const value = JSON.stringify(record);
        const { etcd, key } = this.opts;
        try {
          // Lease 0: no key, or one no live candidate holds (etcd compares a missing key's lease as 0).
          const res = await etcd.if(key, 'Lease', '==', '0').then(etcd.put(key).value(value).lease(leaseId)).else(etcd.get(key)).commit();
          // Held under our own lease: an earlier attempt of ours committed but its answer was lost
          // (a timeout, retried on another member). Ours, then — else nobody would lead until our lease went.
          const held = res.succeeded ? undefined : res.responses[0]?.response_range?.kvs[0];
          const ours = res.succeeded ? value : held && String(held.lease) === String(leaseId) ? held.value.toString() : undefined;
          if (ours !== undefined) {
            this.mine = ours;
            // The watch may not have delivered our own put yet.
            this.current = ours;
            this.update();
          }
        } catch (err) {
          this.opts.log.warn('coordinator campaign failed; retrying when the key changes or the lease is restored', { error: (err as Error).message });
          if (!this.stopped) setTimeout(() => void this.campaign(), 1_000).unref();
        }
      } while (this.again && !this.stopped);
    } finally {
      this.campaigning = false;
    }
  }
}
