import { hostname } from 'node:os';
import type { Etcd3 } from 'etcd3';
import { LeaseKeeper, PrefixWatcher } from '@gantry/etcd';
import type { AgentStatus, ComponentStatus, HostRegistration, KeyLayout, ProjectConfig } from '@gantry/spec';
import type { EngineDeps } from '../engine/update';
import type { HostContext } from '../engine/host-context';
import { ComponentWorker } from './component-worker';
import { hostIntent, type KeyProblem } from './desired-state';
import type { Logger } from './logger';
import { StatusWriter } from './status-writer';
import { fitAgentStatus } from './fit-status';
import { HostAlreadyRunningError, registerHost } from './registration';
import { RolloutCoordinator, type CoordinatorOptions } from '../rollout/coordinator';

export interface AgentOptions {
  etcd: Etcd3;
  keys: KeyLayout;
  engine: EngineDeps;
  ctx: HostContext;
  labels: Record<string, string>;
  agentVersion: string;
  log: Logger;
  /** Lease TTL of the registration, seconds. */
  leaseTtlS?: number;
  /** How often every component is checked against what runs, even with no change in etcd (ms). */
  resyncMs?: number;
  retryBaseMs?: number;
  /** Options of this agent's rollout coordinator candidate (gantryd's --history-limit, --gone-host-retention; a test's clock). */
  coordinator?: Pick<CoordinatorOptions, 'clock' | 'historyLimit' | 'goneHostRetentionMs' | 'tickMs'>;
  /** Another gantryd registered this host while our lease was gone: this agent has stopped writing status and must stop. */
  onRegistrationTaken?: (err: HostAlreadyRunningError) => void;
}

/**
 * gantryd: one host's agent. Watches (never polls) the project's config, the fleet's desired
 * versions and this host's own desired versions; keeps a registration alive through a lease;
 * runs a ComponentWorker per component that converges what runs to what should; and writes each
 * component's status, and its own, only when they change.
 */
export class Agent {
  private readonly values = new Map<string, string>();
  private readonly workers = new Map<string, ComponentWorker>();
  private readonly watchers: PrefixWatcher[] = [];
  private readonly writer: StatusWriter;
  private lease?: LeaseKeeper;
  private lastGoodConfig?: ProjectConfig;
  private resyncTimer?: NodeJS.Timeout;
  private lastAgentProblems = '';
  private coordinator?: RolloutCoordinator;

  constructor(private readonly opts: AgentOptions) {
    this.writer = new StatusWriter({ put: async (key, value) => void (await opts.etcd.put(key).value(value)) }, {
      onError: (key, err) => opts.log.warn('status write failed; will retry', { key, error: err.message }),
    });
  }

  async start(): Promise<void> {
    const { keys, ctx, log } = this.opts;
    const registration: HostRegistration = {
      hostId: ctx.hostId,
      address: ctx.bindAddress,
      labels: this.opts.labels,
      agentVersion: this.opts.agentVersion,
      startedAt: new Date().toISOString(),
      pid: process.pid,
      hostname: hostname(),
    };
    const registrationKey = keys.registration(ctx.project, ctx.hostId);
    this.lease = new LeaseKeeper(this.opts.etcd, {
      ttlSeconds: this.opts.leaseTtlS ?? 10,
      onLost: () => log.warn('registration lease lost; re-registering when etcd answers'),
      onRestored: () => {
        log.info('registration restored');
        // etcd may have lost our writes with the lease: write every status again.
        this.writer.invalidate();
        for (const w of this.workers.values()) w.poke();
      },
      // Created only if absent, also after a loss: never over another gantryd that registered meanwhile.
      onConflict: (_key, existing) => {
        const err = new HostAlreadyRunningError(ctx.hostId, registrationKey, existing);
        log.error('registration taken by another gantryd while our lease was gone: this agent stops', { error: err.message });
        this.writer.stop(); // its status is theirs to write now
        this.opts.onRegistrationTaken?.(err);
      },
    });
    // Registered before anything runs: a second gantryd for this host id stops here, having touched nothing.
    try {
      await registerHost(this.lease, registrationKey, registration);
    } catch (err) {
      await this.lease.stop({ revoke: true });
      throw err;
    }

    const prefixes = [keys.config(ctx.project), keys.fleetDesiredPrefix(ctx.project), `${keys.host(ctx.project, ctx.hostId)}desired/`];
    for (const prefix of prefixes) {
      const watcher = new PrefixWatcher({
        client: this.opts.etcd,
        prefix,
        onSnapshot: (kvs) => {
          for (const key of [...this.values.keys()]) if (key.startsWith(prefix)) this.values.delete(key);
          for (const [key, value] of kvs) this.values.set(key, value);
          this.refresh();
        },
        onChange: (change) => {
          if (change.type === 'put' && change.value !== undefined) this.values.set(change.key, change.value);
          else this.values.delete(change.key);
          this.refresh();
        },
        onError: (err) => log.warn('etcd watch interrupted; re-reading when etcd answers', { prefix, error: err.message }),
      });
      this.watchers.push(watcher);
    }
    await Promise.all(this.watchers.map((w) => w.start()));
    // Every agent is a candidate for the project's rolling-update coordinator; only the elected one drives.
    this.coordinator = new RolloutCoordinator({ etcd: this.opts.etcd, keys, project: ctx.project, hostId: ctx.hostId, log, leaseTtlS: this.opts.leaseTtlS ?? 10, ...this.opts.coordinator });
    await this.coordinator.start();
    this.resyncTimer = setInterval(() => this.workers.forEach((w) => w.poke()), this.opts.resyncMs ?? 30_000);
    this.resyncTimer.unref();
    log.info('agent started', { bind: ctx.bindAddress });
  }

  /** Stops watching and revokes the registration; containers and HAProxy keep serving. */
  async stop(): Promise<void> {
    clearInterval(this.resyncTimer);
    await this.coordinator?.stop();
    await Promise.all(this.watchers.map((w) => w.stop()));
    await Promise.all([...this.workers.values()].map((w) => w.stop()));
    await this.writer.flush(2_000);
    this.writer.stop();
    await this.lease?.stop({ revoke: true });
  }

  private refresh(): void {
    const { keys, ctx } = this.opts;
    const intent = hostIntent(keys, ctx.project, ctx.hostId, this.values, this.lastGoodConfig);
    if (intent.config) this.lastGoodConfig = intent.config;
    this.reportAgent(intent.configProblems);
    if (!intent.config) return;
    for (const ci of intent.components) {
      let worker = this.workers.get(ci.component.name);
      if (!worker) {
        worker = new ComponentWorker(ci.component.name, {
          engine: this.opts.engine,
          ctx,
          log: this.opts.log,
          retryBaseMs: this.opts.retryBaseMs,
          report: (status: ComponentStatus) => this.writer.set(keys.status(ctx.project, ctx.hostId, ci.component.name), JSON.stringify(status)),
        });
        this.workers.set(ci.component.name, worker);
      }
      worker.setIntent(ci, intent.config, intent.configProblems);
    }
  }

  private reportAgent(problems: KeyProblem[]): void {
    const signature = JSON.stringify(problems);
    if (signature === this.lastAgentProblems) return;
    this.lastAgentProblems = signature;
    const at = new Date().toISOString();
    const status: AgentStatus = {
      agentVersion: this.opts.agentVersion,
      problems: problems.map((p) => ({ ...p, at })),
      updatedAt: at,
    };
    this.writer.set(this.opts.keys.agent(this.opts.ctx.project, this.opts.ctx.hostId), JSON.stringify(fitAgentStatus(status)));
  }
}
