import type { HostProxy } from '../proxy/proxy';
import type { MaintenanceAnswer } from '../proxy/maintenance-maps';
import type { KeyProblem } from './desired-state';
import type { Logger } from './logger';
import type { MaintenancePlan } from './maintenance-plan';

export interface MaintenanceApplierDeps {
  proxy: HostProxy;
  /** The plan from the latest view of etcd, given what the proxy answers now; undefined while there is no view to act on. */
  plan(applied: Readonly<Record<string, MaintenanceAnswer>>): MaintenancePlan | undefined;
  /** The proxy answers as `plan` says (each component's status shows it from now on). */
  onApplied(plan: MaintenancePlan): void;
  /** The problems to report in the agent record: invalid values, and a proxy that refused the maps. */
  onProblems(problems: KeyProblem[]): void;
  /** Names the proxy in a problem of its own (the host's key). */
  proxyKey: string;
  log: Logger;
  /** First pause before trying a failed apply again (ms); doubles up to 30 s. */
  retryBaseMs?: number;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Keeps this host's proxy answering 503 exactly for the components in maintenance here.
 * Level-triggered and serialised: each poke plans from the latest view and what the proxy has, and
 * sets every answer at once (idempotent: the proxy checks its maps and changes only what differs).
 * Host-wide, apart from the component workers: maintenance goes on and off at once, even while a
 * component's update waits for a drain.
 */
export class MaintenanceApplier {
  private running?: Promise<void>;
  private dirty = false;
  private stopped = false;
  private retryTimer?: NodeJS.Timeout;
  private retryMs?: number;
  private reported = '';

  constructor(private readonly deps: MaintenanceApplierDeps) {}

  poke(): void {
    if (this.stopped) return;
    this.dirty = true;
    this.running ??= this.loop().finally(() => (this.running = undefined));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await this.running;
  }

  private async loop(): Promise<void> {
    while (this.dirty && !this.stopped) {
      this.dirty = false;
      let plan: MaintenancePlan | undefined;
      try {
        const applied = await this.deps.proxy.maintenance();
        plan = this.deps.plan(applied);
        if (!plan) continue;
        await this.deps.proxy.setMaintenance(plan.answers);
        if (!same(applied, plan.answers)) this.deps.log.info('maintenance applied', { answering503: Object.keys(plan.answers), components: [...plan.components].filter(([, m]) => m).map(([c]) => c) });
        this.retryMs = undefined;
        this.deps.onApplied(plan);
        this.report(plan.problems);
      } catch (err) {
        // What the proxy answered stays as it was; statuses keep saying what was last applied.
        const reason = `could not apply maintenance to this host's HAProxy: ${(err as Error).message}`;
        this.retryMs = Math.min((this.retryMs ?? (this.deps.retryBaseMs ?? 1_000) / 2) * 2, 30_000);
        this.deps.log.warn(reason, { retryInMs: this.retryMs });
        this.report([...(plan?.problems ?? []), { key: this.deps.proxyKey, reason }]);
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.poke(), this.retryMs);
        this.retryTimer.unref();
      }
    }
  }

  private report(problems: KeyProblem[]): void {
    const signature = JSON.stringify(problems);
    if (signature === this.reported) return;
    this.reported = signature;
    for (const p of problems) this.deps.log.warn('maintenance value not acted on', { key: p.key, reason: p.reason });
    this.deps.onProblems(problems);
  }
}
