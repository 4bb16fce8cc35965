import { componentConfigHash, redactSecrets, secretValuesOf, type ComponentStatus, type MaintenanceStatus, type PrepullStatus, type ProjectConfig, type Problem } from '@gantry/spec';
import type { HealthMonitor } from '../checks/health-monitor';
import type { HostContext } from '../engine/host-context';
import { listComponent } from '../engine/list';
import { removeComponent } from '../engine/remove';
import { stopComponent } from '../engine/stop';
import { updateComponent, type EngineDeps } from '../engine/update';
import { watchHealth } from '../engine/watch-health';
import { EngineError } from '../engine/errors';
import { dockerUnavailable, type PublishedPort } from '../runtime/container-runtime';
import { applyEvent, containerRecords, sameStatus, teardownRecords } from './component-status';
import { fitComponentStatus } from './fit-status';
import type { ComponentIntent, KeyProblem } from './desired-state';
import type { Logger } from './logger';

export interface WorkerDeps {
  engine: EngineDeps;
  ctx: HostContext;
  /** Receives every new status of the component. */
  report(status: ComponentStatus): void;
  log: Logger;
  /** Pause before trying again a target that failed (ms); doubles up to 5 minutes. */
  retryBaseMs?: number;
  /** A new container of this component serves now: a link it defines may have come up (see linkMayServe). */
  onNewServing?: () => void;
  /** The component runs `version` now, after an update that `changed` what runs or found it in place (image retention). */
  onConverged?(version: string, changed: boolean): void;
}

const now = () => new Date();

/** How long after docker was away its failures count as its own, not the target's (ms). */
const DOCKER_SETTLE_MS = 10_000;

/** About how long a container's checks take to call it unhealthy: what a verdict after docker was away may still reflect. */
function healthWindowMs(component: ComponentIntent['component']): number {
  const intervalS = Math.min(...component.healthChecks.map((c) => c.interval ?? 5));
  const retries = Math.max(...component.healthChecks.map((c) => c.retries ?? 1));
  return Math.round((intervalS * (retries + component.healthFailureThreshold) + 5) * 1000);
}

/** Which desired value an intent is: its key, that key's mod revision, and the value's rollout and setAt. */
function observedGeneration(intent: ComponentIntent): ComponentStatus['observed'] {
  const desired = intent.desired;
  return {
    key: intent.source ?? '',
    modRevision: intent.sourceRevision ?? 0,
    ...(desired?.rollout !== undefined && { rollout: desired.rollout }),
    ...(desired?.setAt !== undefined && { setAt: desired.setAt }),
  };
}

/**
 * Converges one component on this host, level-triggered: whenever poked it compares what should run
 * (the latest intent) with what runs, and acts through the engine's zero-downtime operations. Work
 * is serialised: a change that arrives during an update is acted on right after it, from the
 * latest intent (intermediate ones are skipped). A target that failed is not retried in a loop:
 * only when the intent changes, or after a growing pause.
 */
export class ComponentWorker {
  private intent?: ComponentIntent;
  private config?: ProjectConfig;
  private configProblems: KeyProblem[] = [];
  private status: ComponentStatus = { phase: 'idle', containers: [], updatedAt: now().toISOString() };
  private running?: Promise<void>;
  private dirty = false;
  private replaceRequested = false;
  /** The target that failed, and when to try it again; a policy refusal (`refused`) never, until the config or the policy changes. */
  private failed?: { target: string; retryAt: number; delayMs: number; refused?: boolean; link?: boolean };
  private retryTimer?: NodeJS.Timeout;
  /** The health checks running on the serving container, kept across no-op convergences. */
  private monitor?: { key: string; health: HealthMonitor };
  private stopped = false;
  private reported = false;
  /** An unhealthy verdict came while docker was away: the next convergence starts the checks afresh instead. */
  private recheckHealth = false;

  constructor(
    readonly name: string,
    private readonly deps: WorkerDeps,
  ) {}

  /** New intent from etcd: converge to it. */
  setIntent(intent: ComponentIntent, config: ProjectConfig, configProblems: KeyProblem[]): void {
    this.intent = intent;
    this.config = config;
    this.configProblems = configProblems;
    this.poke();
  }

  /** Check again that what runs is what should (a periodic resync, a container that died). */
  poke(): void {
    if (this.stopped) return;
    this.dirty = true;
    this.running ??= this.loop().finally(() => (this.running = undefined));
  }

  /**
   * This host's proxy answers 503 for the component, or serves it again (the MaintenanceApplier
   * applied it): the status says so. Before the first convergence it is only kept, and goes out
   * with the first status: a status is never written before the component was observed.
   */
  setMaintenance(maintenance: MaintenanceStatus | undefined): void {
    if (JSON.stringify(maintenance) === JSON.stringify(this.status.maintenance)) return;
    if (!this.reported) this.status = { ...this.status, maintenance };
    else this.report({ maintenance });
  }

  /**
   * A rollout's pre-pull of this component, as the agent's Prepuller answers it (undefined: no
   * longer asked), shown in the status. Before the first convergence it only waits in the status:
   * that convergence's report carries it, so no status of a worker that observed nothing is written.
   */
  setPrepull(prepull: PrepullStatus | undefined): void {
    if (this.stopped) return;
    if (!this.reported) this.status = { ...this.status, prepull };
    else this.report({ prepull });
  }

  /**
   * Another component of this host got a new serving container: a target that failed for want of a
   * link's serving container is tried again now, not after its pause.
   */
  linkMayServe(): void {
    if (!this.failed?.link) return;
    this.failed = undefined;
    this.poke();
  }

  /** This host's policy changed: what it refused is judged again (nothing else is retried sooner). */
  policyChanged(): void {
    if (!this.failed?.refused) return;
    this.failed = undefined;
    this.poke();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await this.stopHealth();
    await this.running;
  }

  /**
   * The component left the config: stop converging, then drain and remove its containers with the
   * spec they ran under, and take its frontends out of the proxy (`config`, the new config).
   */
  async retire(config: ProjectConfig): Promise<void> {
    await this.stop();
    const lastConfig = this.config;
    if (!lastConfig) return;
    this.report({ phase: 'stopping', targetVersion: undefined });
    await removeComponent(this.deps.engine, this.deps.ctx, { lastConfig, config, component: this.name, onEvent: (e) => this.report(applyEvent(this.status, e, now())) });
    this.deps.log.info('component removed from the config: drained and removed', { component: this.name });
  }

  private async loop(): Promise<void> {
    while (this.dirty && !this.stopped) {
      this.dirty = false;
      try {
        await this.converge();
      } catch (err) {
        // converge reports its own failures; anything else must not kill the agent.
        this.deps.log.error('unexpected error while converging', { component: this.name, error: (err as Error).message });
      }
    }
  }

  private problems(): Problem[] {
    const at = now().toISOString();
    return [...this.configProblems, ...(this.intent?.problems ?? [])].map((p) => ({ key: p.key, reason: p.reason, at }));
  }

  /**
   * Records and reports a status; one that differs only in `updatedAt` is not news, and is dropped.
   * Fitted first (a last error with container logs, huge check details), so it can always be written.
   */
  private report(patch: Partial<ComponentStatus>): void {
    const merged = { ...this.status, ...patch, updatedAt: now().toISOString() };
    // When this host began moving to its target: its status may be written a while later (paced).
    if (merged.targetVersion !== this.status.targetVersion) merged.targetSince = merged.targetVersion === undefined ? undefined : merged.updatedAt;
    const next = fitComponentStatus(this.redacted(merged));
    if (this.reported && sameStatus(this.status, next)) return;
    this.reported = true;
    this.status = next;
    this.deps.report(next);
  }

  /**
   * The status with the config's `secret: true` values replaced by `***` where free text could
   * carry them: the last error and health-check details (an exec check's output). The engine's
   * errors come redacted already, `valueFrom` contents too; this also covers the health monitor.
   */
  private redacted(status: ComponentStatus): ComponentStatus {
    const secrets = this.intent ? secretValuesOf(this.intent.component) : [];
    if (secrets.length === 0) return status;
    return {
      ...status,
      ...(status.lastError && { lastError: { ...status.lastError, reason: redactSecrets(status.lastError.reason, secrets) } }),
      ...(status.health && { health: { ...status.health, lastResults: status.health.lastResults.map((r) => ({ ...r, detail: r.detail === undefined ? r.detail : redactSecrets(r.detail, secrets) })) } }),
    };
  }

  private async converge(): Promise<void> {
    const { intent, config } = this;
    if (!intent || !config) return;
    const desired = intent.desired;
    const problems = this.problems();
    const { engine, ctx, log } = this.deps;
    if (!desired) {
      const rows = await listComponent(engine, ctx, config, this.name);
      this.report({ phase: rows.length ? 'running' : 'idle', containers: containerRecords(rows), lastError: problems[0] ?? (this.failed ? this.status.lastError : undefined), observed: undefined });
      return;
    }
    // The desired value this status reflects from now on. A new one (even with the same version) is
    // news; what the status said of an older one (its failure) is not this one's.
    const observed = observedGeneration(intent);
    const fresh = JSON.stringify(observed) !== JSON.stringify(this.status.observed);
    // The config generation to run: the desired value's, else the stored config's (see DesiredVersion.configHash).
    const configNow = componentConfigHash(intent.component);
    const generation = desired.configHash ?? configNow;
    const target = `${desired.state}:${desired.version}:${desired.digest ?? ''}:${generation}:${configNow}`;
    if (this.failed?.target === target && Date.now() < this.failed.retryAt && !this.replaceRequested) {
      // Still failed, for this value too: the target is not retried until the pause is over.
      this.report({ observed, ...(problems.length > 0 && { lastError: problems[0] }) });
      return;
    }
    const renewed: Partial<ComponentStatus> = fresh ? { observed, lastError: problems[0], ...(this.status.phase === 'failed' && { phase: 'starting' }) } : {};
    // setAt lets a benchmark match this line to the write that caused it.
    log.debug('converging', { component: this.name, target, source: intent.source, desiredSetAt: desired.setAt });
    const replace = this.replaceRequested;
    this.replaceRequested = false;
    const clog = log.child({ component: this.name, version: desired.version });
    try {
      if (desired.state === 'stopped') {
        await this.stopHealth();
        this.report({ ...renewed, phase: 'stopping', targetVersion: undefined });
        await stopComponent(engine, ctx, { config, component: this.name, onEvent: (e) => this.report(applyEvent(this.status, e, now())) });
        this.report({ phase: 'stopped', containers: [], version: undefined, health: undefined, drain: undefined, teardown: undefined, lastError: problems[0] });
        this.failed = undefined;
        return;
      }
      // Only a real move is news: a resync that finds everything in place must write nothing.
      // A serving container made with neither the desired generation nor the stored config gets replaced.
      const staleConfig = this.status.configHash !== undefined && this.status.configHash !== generation && this.status.configHash !== configNow;
      const moving = desired.version !== this.status.version || this.status.phase !== 'running' || staleConfig;
      this.report({ ...renewed, ...(moving && { targetVersion: desired.version }) });
      const summary = await updateComponent(engine, ctx, {
        config,
        component: this.name,
        tag: desired.version,
        replace,
        keepConfigHash: generation,
        onEvent: (e) => {
          // The serving container is about to change: its checks would fail while it drains.
          if (e.type === 'container-started') void this.stopHealth();
          if (e.type !== 'ready-check' && e.type !== 'pull-progress') clog.info(e.type, { event: e });
          this.report(applyEvent(this.status, e, now()));
        },
      });
      if (!summary.unchanged) clog.info('converged', { container: summary.container, timings: summary.timings });
      this.deps.onConverged?.(summary.version, !summary.unchanged);
      if (!summary.unchanged) this.deps.onNewServing?.();
      const rows = await listComponent(engine, ctx, config, this.name);
      this.failed = undefined;
      // Running once the old is drained and out of every frontend: its teardown, if any, goes on
      // in the background and is shown beside (a rollout does not wait for it). One that ended
      // since the listing is gone, or about to be: its row is not news.
      const tearingDown = engine.teardown?.list(this.name) ?? [];
      const gone = (r: (typeof rows)[number]) => r.role === 'tearing-down' && !tearingDown.some((t) => t.container === r.id);
      this.report({
        phase: 'running',
        version: summary.version,
        targetVersion: undefined,
        image: summary.image,
        configHash: summary.configHash,
        configPending: summary.configHash !== configNow || undefined,
        containers: containerRecords(rows.filter((r) => !gone(r))),
        teardown: teardownRecords(tearingDown),
        drain: undefined,
        pull: undefined,
        lastError: problems[0],
      });
      if (this.recheckHealth) {
        this.recheckHealth = false;
        await this.stopHealth();
      }
      this.watchHealth(intent, summary.container, summary.hostPorts);
    } catch (err) {
      const unavailable = dockerUnavailable(err);
      if (unavailable) {
        // Docker's state is unknown: nothing is concluded from it, nothing is removed, and the
        // target is not failed: every poke (the resync, docker coming back) tries again.
        clog.warn('docker unavailable: what runs is unknown, left as it is', { error: unavailable.message });
        // A replacement asked for is not carried over: its checks judge it afresh once docker answers.
        if (replace) this.recheckHealth = true;
        const moving = this.status.phase !== 'running' && this.status.phase !== 'idle' && this.status.phase !== 'stopped';
        this.report({ phase: moving ? 'failed' : this.status.phase, drain: undefined, pull: undefined, lastError: { key: intent.source, reason: unavailable.message, at: now().toISOString() } });
        return;
      }
      // Right after docker was away (a restart), its refusals are its own transient state ("failed to
      // update store for object type *libnetwork.endpoint"): tried again at the next poke, not paced.
      const dockerJustBack = engine.runtime.dockerAwayWithin?.(DOCKER_SETTLE_MS) === true;
      const delayMs = this.failed?.target === target ? Math.min(this.failed.delayMs * 2, 300_000) : (this.deps.retryBaseMs ?? 30_000);
      // Refused by the policy: the same config under the same policy is refused again, so no retry at all.
      const refused = err instanceof EngineError && err.code === 'refused';
      if (refused) {
        this.failed = { target, retryAt: Number.POSITIVE_INFINITY, delayMs, refused };
        clearTimeout(this.retryTimer);
      } else if (!dockerJustBack) {
        this.failed = { target, retryAt: Date.now() + delayMs, delayMs, link: err instanceof EngineError && err.code === 'link' };
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.poke(), delayMs);
        this.retryTimer.unref();
      }
      const reason = (err as Error).message;
      clog.error('update failed', { error: reason, ...(refused ? { retry: 'when the config or the host policy changes' } : dockerJustBack ? { retry: 'at the next poke: docker was just away' } : { retryInMs: delayMs }) });
      const rows = await listComponent(engine, ctx, config, this.name).catch(() => undefined);
      this.report({ phase: 'failed', containers: rows ? containerRecords(rows) : this.status.containers, drain: undefined, pull: undefined, lastError: { key: intent.source, reason, at: now().toISOString() } });
      // What still serves keeps being watched.
      const serving = rows?.find((r) => r.role === 'serving');
      if (serving) this.watchHealth(intent, serving.id);
    }
  }

  private async stopHealth(): Promise<void> {
    const monitor = this.monitor;
    this.monitor = undefined;
    await monitor?.health.stop();
  }

  private watchHealth(intent: ComponentIntent, containerId: string, hostPorts?: Record<number, PublishedPort>): void {
    // Same container, same ports, same checks: the running monitor stays (restarting it would
    // report anew). Ports change when a dockerd restart restarted the container: checks follow.
    const key = `${containerId}/${JSON.stringify(hostPorts ?? null)}/${JSON.stringify(intent.component.healthChecks)}/${intent.component.healthFailureThreshold}`;
    if (this.stopped || intent.component.healthChecks.length === 0 || this.monitor?.key === key) return;
    void this.stopHealth();
    void this.deps.engine.runtime.inspect(containerId).then((container) => {
      if (!container || this.stopped || this.monitor) return;
      const health = watchHealth(this.deps.engine.runtime, intent.component, container, {
        onChange: (s) =>
          this.report({
            health: {
              state: s.state,
              failing: s.failingChecks,
              lastResults: s.lastResults.map((r) => ({ check: r.check, ok: r.ok, detail: r.detail, at: r.at.toISOString() })),
              checkedAt: s.checkedAt?.toISOString(),
            },
          }),
        onUnhealthy: (s) => {
          // Checks reach the container through ports Docker publishes (docker-proxy dies with a
          // restarting dockerd): while docker is away, or just came back, a failure is not the
          // container's. Not replaced: observed again, and checked afresh once docker answers.
          const runtime = this.deps.engine.runtime;
          if (runtime.dockerAwayWithin?.(healthWindowMs(intent.component))) {
            this.deps.log.warn('container unhealthy while docker is or was just away: not replacing it; checking it afresh once docker answers', { component: this.name, container: containerId, failing: s.failingChecks });
            this.recheckHealth = true;
            this.poke();
            return;
          }
          this.deps.log.warn('container unhealthy: replacing it', { component: this.name, container: containerId, failing: s.failingChecks });
          this.replaceRequested = true;
          this.poke();
        },
      });
      this.monitor = { key, health };
    });
  }
}
