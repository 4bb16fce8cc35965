import { setTimeout as delay } from 'node:timers/promises';
import type { HealthStatus } from '../checks/health-monitor';
import { EngineError } from './errors';
import type { EventSink } from './events';
import type { HostContext } from './host-context';
import { observeComponent } from './observe';
import { resolveComponent, updateComponent, type EngineDeps, type UpdateRequest } from './update';
import { watchHealth } from './watch-health';

export interface MonitorRequest extends Pick<UpdateRequest, 'config' | 'component'> {
  onEvent?: EventSink;
  /** Monitoring runs until this is aborted. */
  signal: AbortSignal;
  /** Pause before retrying a replacement that failed (ms). */
  retryDelayMs?: number;
}

/**
 * Gantryd's monitor (`gantry.py update -m`): runs the serving container's health checks, and when
 * it turns unhealthy replaces it through the same zero-downtime path as an update — the unhealthy
 * one keeps serving until its replacement is ready. A replacement that fails is retried later.
 */
export async function monitorComponent(deps: EngineDeps, ctx: HostContext, req: MonitorRequest): Promise<void> {
  const emit: EventSink = req.onEvent ?? (() => undefined);
  const component = resolveComponent(req.config, req.component);
  const retryDelayMs = req.retryDelayMs ?? 5_000;
  while (!req.signal.aborted) {
    const serving = (await observeComponent(deps.runtime, deps.proxy, ctx, component)).serving[0];
    if (!serving) throw new EngineError('invalid-input', `nothing of ${component.name} serves on host ${ctx.hostId}: start it before monitoring it`);

    let onAbort = () => undefined as void;
    const unhealthy = await new Promise<HealthStatus | undefined>((resolve) => {
      const monitor = watchHealth(deps.runtime, component, serving, {
        onChange: (status) => emit({ type: 'health', container: serving.id, state: status.state, failing: status.failingChecks }),
        onUnhealthy: (status) => void monitor.stop().then(() => resolve(status)),
      });
      onAbort = () => void monitor.stop().then(() => resolve(undefined));
      req.signal.addEventListener('abort', onAbort, { once: true });
    });
    req.signal.removeEventListener('abort', onAbort);
    if (!unhealthy) return;

    const reason = `unhealthy after ${unhealthy.consecutiveFailures} failing rounds (${unhealthy.failingChecks.join(', ')})`;
    emit({ type: 'replacing', container: serving.id, reason });
    try {
      await updateComponent(deps, ctx, { config: req.config, component: component.name, tag: serving.version, replace: true, onEvent: emit, signal: req.signal });
    } catch (err) {
      if (req.signal.aborted) return;
      emit({ type: 'replace-failed', container: serving.id, reason: (err as Error).message, retryInMs: retryDelayMs });
      await delay(retryDelayMs, undefined, { signal: req.signal }).catch(() => undefined);
    }
  }
}
