import { hostname } from 'node:os';
import type { Etcd3 } from 'etcd3';
import { explainTlsFailure, FleetMirror, isAccessDenied, LeaseKeeper, Mirror } from '@gantry/etcd';
import type { AgentStatus, ComponentStatus, HostRegistration, KeyLayout, MaintenanceStatus, PrepullStatus, ProjectConfig } from '@gantry/spec';
import { mayCoordinate, type CoordinatorMode } from '../rollout/coordinator-capability';
import type { EngineDeps } from '../engine/update';
import type { HostContext } from '../engine/host-context';
import { removeOrphans } from '../engine/remove';
import { ComponentWorker } from './component-worker';
import { hostIntent, type KeyProblem } from './desired-state';
import type { Logger } from './logger';
import { MaintenanceApplier } from './maintenance-applier';
import { ImageRetention } from './image-retention';
import { prepullIntent } from './prepull-intent';
import { Prepuller } from './prepuller';
import { appliedMaintenance, planMaintenance } from './maintenance-plan';
import type { MaintenanceAnswer } from '../proxy/maintenance-maps';
import { ProxyWatch } from './proxy-watch';
import { StatusWriter } from './status-writer';
import { stampStatus, statusPace } from './status-progress';
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
  /** How often the host's HAProxy is checked and, when down, restored (ms; default 250). */
  proxyWatchMs?: number;
  retryBaseMs?: number;
  /**
   * Whether this agent is a candidate for the project's rollout coordinator: `auto` (default) when
   * its etcd credentials allow a coordinator's writes, `never` not at all.
   */
  coordinatorMode?: Exclude<CoordinatorMode, 'only'>;
  /** Options of this agent's rollout coordinator candidate (gantryd's --history-limit, --gone-host-retention; a test's clock). */
  coordinator?: Pick<CoordinatorOptions, 'clock' | 'historyLimit' | 'goneHostRetentionMs' | 'tickMs'>;
  /** Keeps the images of the last `keep` versions of each component it ran, and removes older ones after an update; the history is kept in `file`. None: every image is kept. */
  imageRetention?: { keep: number; file: string };
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
  private readonly workers = new Map<string, ComponentWorker>();
  private mirror?: FleetMirror;
  private ownRecords?: Mirror<string>;
  private readonly writer: StatusWriter;
  private lease?: LeaseKeeper;
  private lastGoodConfig?: ProjectConfig;
  private resyncTimer?: NodeJS.Timeout;
  private lastAgentProblems = '';
  private coordinator?: RolloutCoordinator;
  /** What the agent itself cannot act on: the config, keys it ignores, and the coordinator's problems. */
  private hostProblems: KeyProblem[] = [];
  private coordinatorProblems: KeyProblem[] = [];
  private proxyProblems: KeyProblem[] = [];
  private maintenanceProblems: KeyProblem[] = [];
  private prepullProblems: KeyProblem[] = [];
  /** Pulls what rollouts' preflights ask of this host, in the background; each answer goes into the component's status. */
  private prepuller?: Prepuller;
  /** Each component's latest prepull answer: a worker created later starts from it. */
  private readonly prepullAnswers = new Map<string, PrepullStatus>();
  private readonly retention?: ImageRetention;
  /** Each component's pruning in progress: one at a time. */
  private readonly pruning = new Map<string, Promise<unknown>>();
  /** Keeps the proxy answering 503 for the components in maintenance here; host-wide, apart from the workers. */
  private maintenance?: MaintenanceApplier;
  /** Each component's maintenance as last applied to the proxy: what its status says (a new worker starts from it). */
  private appliedMaintenance = new Map<string, MaintenanceStatus | undefined>();
  /** The proxy's answers as this process found them (persisted by the last one): what statuses say until the first apply. */
  private foundMaintenance: Record<string, MaintenanceAnswer> = {};
  private proxyWatch?: ProxyWatch;
  /** Components gone from the config whose containers are draining away; none gets a new worker meanwhile. */
  private readonly retiring = new Map<string, Promise<void>>();
  private sweep?: Promise<void>;
  private swept = false;
  private stopDockerWatch?: () => void;

  constructor(private readonly opts: AgentOptions) {
    if (opts.imageRetention) this.retention = new ImageRetention({ runtime: opts.engine.runtime, log: opts.log, ...opts.imageRetention });
    this.writer = new StatusWriter({ put: async (key, value) => void (await opts.etcd.put(key).value(value)), delete: async (key) => void (await opts.etcd.delete().key(key)) }, {
      onError: (key, err) => opts.log.warn('status write failed; will retry', { key, error: err.message }),
      stamp: (key, value) => (opts.keys.parse(key)?.kind === 'status' ? stampStatus(value, new Date()) : value),
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

    // The host's HAProxy, watched between resyncs: a dead master or worker is restored within a second or so.
    this.proxyWatch = new ProxyWatch(this.opts.engine.proxy, {
      intervalMs: this.opts.proxyWatchMs,
      log,
      onRestored: () => {
        this.workers.forEach((w) => w.poke());
        this.maintenance?.poke();
      },
      onProblem: (reason) => {
        this.proxyProblems = reason ? [{ key: keys.host(ctx.project, ctx.hostId), reason }] : [];
        this.reportAgent();
      },
    });
    this.proxyWatch.start();

    this.foundMaintenance = await this.opts.engine.proxy.maintenance().catch(() => ({}));
    this.maintenance = new MaintenanceApplier({
      proxy: this.opts.engine.proxy,
      proxyKey: keys.host(ctx.project, ctx.hostId),
      log,
      retryBaseMs: this.opts.retryBaseMs,
      // No decision from a partial view, nor without a config: the proxy keeps answering as it does.
      plan: (applied) => (this.mirror?.synced && this.lastGoodConfig ? planMaintenance(keys, ctx.project, { hostId: ctx.hostId, labels: this.opts.labels }, this.mirror, this.lastGoodConfig, applied) : undefined),
      onApplied: (plan) => {
        this.appliedMaintenance = plan.components;
        for (const [name, worker] of this.workers) worker.setMaintenance(plan.components.get(name));
      },
      onProblems: (problems) => {
        this.maintenanceProblems = problems;
        this.reportAgent();
      },
    });

    this.prepuller = new Prepuller({
      runtime: this.opts.engine.runtime,
      log,
      onStatus: (component, status) => {
        if (status) this.prepullAnswers.set(component, status);
        else this.prepullAnswers.delete(component);
        this.workers.get(component)?.setPrepull(status);
      },
    });

    // One mirror of what this host acts on: the config, the fleet's and its own desired versions, its prepull requests, maintenance.
    this.mirror = new FleetMirror(keys, {
      client: this.opts.etcd,
      prefixes: [keys.config(ctx.project), keys.fleetDesiredPrefix(ctx.project), `${keys.host(ctx.project, ctx.hostId)}desired/`, `${keys.host(ctx.project, ctx.hostId)}prepull/`, keys.maintenancePrefix(ctx.project)],
      onError: (err, prefix) => {
        const tls = explainTlsFailure(err.message);
        if (isAccessDenied(err)) log.error("etcd refuses this agent's credentials the keys it follows; retrying (grant them with `gantry access add-host`)", { prefix, error: err.message });
        else if (tls) log.error(`${tls.message}; retrying`, { prefix, error: err.message });
        else log.warn('etcd watch interrupted; re-reading when etcd answers', { prefix, error: err.message });
      },
    });
    this.mirror.subscribe(() => this.refresh());
    // What only this agent writes (its statuses, its record): whatever anyone else writes or deletes
    // there is put back. Apart from the mirror above: its own writes must not wake the workers.
    const own = keys.host(ctx.project, ctx.hostId);
    this.ownRecords = new Mirror<string>({ client: this.opts.etcd, prefixes: [`${own}status/`, `${own}agent`], decode: (_key, text) => text });
    this.ownRecords.subscribe((changes) => {
      for (const c of changes) if (this.writer.reassert(c.key, c.after)) log.warn('a record only this agent writes was changed by someone else; writing ours again', { key: c.key });
    });
    await Promise.all([this.mirror.start(), this.ownRecords.start()]);
    // A candidate for the project's rolling-update coordinator when its credentials allow it; only the elected one drives.
    if (await mayCoordinate(this.opts.etcd, keys, ctx.project, this.opts.coordinatorMode ?? 'auto', log)) {
      this.coordinator = new RolloutCoordinator({
        etcd: this.opts.etcd,
        keys,
        project: ctx.project,
        hostId: ctx.hostId,
        log,
        leaseTtlS: this.opts.leaseTtlS ?? 10,
        ...this.opts.coordinator,
        onProblems: (problems) => {
          this.coordinatorProblems = problems;
          this.reportAgent();
        },
      });
      await this.coordinator.start();
    }
    this.resyncTimer = setInterval(() => {
      this.workers.forEach((w) => w.poke());
      this.maintenance?.poke();
      this.sweepOrphans();
    }, this.opts.resyncMs ?? 30_000);
    this.resyncTimer.unref();
    // A dockerd restart may have restarted containers on new ports: every component is observed anew when docker is back.
    this.stopDockerWatch = this.opts.engine.runtime.watchDaemon?.(() => {
      log.info('docker answers again: observing every component anew');
      this.workers.forEach((w) => w.poke());
    });
    log.info('agent started', { bind: ctx.bindAddress });
  }

  /** This host's policy changed (the engine's admission already holds the new one): what it refused is judged again. */
  policyChanged(): void {
    for (const w of this.workers.values()) w.policyChanged();
  }

  /** The hosts registered in the view of this agent's coordinator, when it leads (see RolloutCoordinator.registeredHosts). */
  coordinatorRegisteredHosts(): number | undefined {
    return this.coordinator?.registeredHosts();
  }

  /** Stops watching and revokes the registration; containers and HAProxy keep serving. */
  async stop(): Promise<void> {
    clearInterval(this.resyncTimer);
    this.proxyWatch?.stop();
    this.stopDockerWatch?.();
    await this.coordinator?.stop();
    await this.maintenance?.stop();
    await this.prepuller?.stop();
    await Promise.all([this.mirror?.stop(), this.ownRecords?.stop()]);
    await Promise.all([...this.workers.values()].map((w) => w.stop()));
    await Promise.all([...this.retiring.values(), this.sweep, ...this.pruning.values()]);
    await this.writer.flush(2_000);
    this.writer.stop();
    await this.lease?.stop({ revoke: true });
  }

  private refresh(): void {
    const { keys, ctx } = this.opts;
    if (!this.mirror?.synced) return; // no decision from a partial view
    const intent = hostIntent(keys, ctx.project, ctx.hostId, this.mirror, this.lastGoodConfig);
    if (intent.config) this.lastGoodConfig = intent.config;
    this.hostProblems = [...intent.configProblems, ...intent.ignoredKeys];
    this.reportAgent();
    if (!intent.config) return;
    this.maintenance?.poke();
    for (const [name, worker] of this.workers) if (!intent.components.some((c) => c.component.name === name)) this.retire(name, worker, intent.config);
    if (!this.swept && intent.configProblems.length === 0) {
      this.swept = true; // once at start, then at each resync: a Docker listing per etcd change would be waste
      this.sweepOrphans();
    }
    for (const ci of intent.components) {
      if (this.retiring.has(ci.component.name)) continue; // back in the config: a new worker once the old one is gone
      let worker = this.workers.get(ci.component.name);
      if (!worker) {
        const statusKey = keys.status(ctx.project, ctx.hostId, ci.component.name);
        let reported: ComponentStatus | undefined;
        worker = new ComponentWorker(ci.component.name, {
          engine: this.opts.engine,
          ctx,
          log: this.opts.log,
          retryBaseMs: this.opts.retryBaseMs,
          // What waited for a link's component to serve here starts once it does.
          onNewServing: () => this.workers.forEach((w) => w.linkMayServe()),
          // Steps under way and details are paced (a quick update's phases fold into a few writes); what a rollout waits for goes at once.
          report: (status: ComponentStatus) => {
            this.writer.set(statusKey, JSON.stringify(status), statusPace(reported, status));
            reported = status;
          },
          onConverged: (version, changed) => this.retainImages(ci.component.name, version, changed),
        });
        const name = ci.component.name;
        worker.setMaintenance(this.appliedMaintenance.has(name) ? this.appliedMaintenance.get(name) : appliedMaintenance(ci.component, this.foundMaintenance));
        worker.setPrepull(this.prepullAnswers.get(ci.component.name));
        this.workers.set(ci.component.name, worker);
      }
      worker.setIntent(ci, intent.config, intent.configProblems);
    }
    // After the workers: a pull's first answer goes into the status of a worker that exists.
    const prepulls = prepullIntent(keys, ctx.project, ctx.hostId, this.mirror, intent.config);
    this.prepuller?.want(prepulls.jobs);
    if (JSON.stringify(prepulls.problems) !== JSON.stringify(this.prepullProblems)) {
      this.prepullProblems = prepulls.problems;
      this.reportAgent();
    }
  }

  /**
   * Image retention: `version` goes first in the component's history; after an update that changed
   * what runs, the images of versions before the last kept ones go, in the background (never the
   * one it runs, nor a version a prepull names).
   */
  private retainImages(component: string, version: string, changed: boolean): void {
    const { ctx } = this.opts;
    const retention = this.retention;
    if (!retention) return;
    retention.record(ctx.project, component, version);
    const repo = this.lastGoodConfig?.components.find((c) => c.name === component)?.repo;
    if (!changed || !repo || this.pruning.has(component)) return;
    const prepull = this.prepullAnswers.get(component)?.version;
    const protectedVersions = new Set([version, ...(prepull ? [prepull] : [])]);
    this.pruning.set(component, retention.prune(ctx.project, component, repo, protectedVersions).finally(() => this.pruning.delete(component)));
  }

  /** A component left the config: its worker drains and removes it, then its status key goes. */
  private retire(name: string, worker: ComponentWorker, config: ProjectConfig): void {
    const { keys, ctx, log } = this.opts;
    this.workers.delete(name);
    log.info('component removed from the config: draining it away', { component: name });
    const done = worker
      .retire(config)
      .then(() => this.writer.remove(keys.status(ctx.project, ctx.hostId, name)))
      .catch((err: Error) => void log.error('removing a component failed; its containers are left as they are', { component: name, error: err.message }))
      .finally(() => {
        this.retiring.delete(name);
        this.refresh();
      });
    this.retiring.set(name, done);
  }

  /** Containers of components the valid config no longer has, left from before this process (level-triggered). */
  private sweepOrphans(): void {
    const config = this.lastGoodConfig;
    if (this.sweep || !config || this.hostProblems.some((p) => p.key === this.opts.keys.config(this.opts.ctx.project))) return;
    const { log } = this.opts;
    this.sweep = removeOrphans(this.opts.engine, this.opts.ctx, config, new Set([...this.workers.keys(), ...this.retiring.keys()]))
      .then(async (removed) => {
        if (removed.length === 0) return;
        log.info('removed containers of components the config no longer has', { removed });
        const { keys, ctx } = this.opts;
        for (const component of new Set(removed.map((r) => r.component))) await this.writer.remove(keys.status(ctx.project, ctx.hostId, component));
      })
      .catch((err: Error) => void log.warn('could not remove containers of components the config no longer has; trying again at the next resync', { error: err.message }))
      .finally(() => (this.sweep = undefined));
  }

  /** Writes the agent record when its problems change. */
  private reportAgent(): void {
    const problems = [...this.hostProblems, ...this.coordinatorProblems, ...this.proxyProblems, ...this.maintenanceProblems, ...this.prepullProblems];
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
