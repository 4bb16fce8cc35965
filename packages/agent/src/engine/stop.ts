import type { ProjectConfig } from '@gantry/spec';
import type { EventSink } from './events';
import { servedFrontends } from './frontends';
import type { HostContext } from './host-context';
import { observeComponent, serverName } from './observe';
import { EngineError } from './errors';
import { retireContainers, type Retired } from './retire';
import { ContainerTeardowns } from './teardown';
import { resolveComponent, type EngineDeps } from './update';

export interface StopRequest {
  config: ProjectConfig;
  component: string;
  onEvent?: EventSink;
}

/**
 * Gantryd's `stop`: every container of the component drains (up to its drainTimeout) and is then
 * stopped and removed; it returns once all are gone (a teardown already under way included).
 * Its frontends stay, answering 503 until something serves again.
 */
export async function stopComponent(deps: EngineDeps, ctx: HostContext, req: StopRequest): Promise<Retired[]> {
  const component = resolveComponent(req.config, req.component);
  const emit = req.onEvent ?? (() => undefined);
  const teardown = deps.teardown ?? new ContainerTeardowns(deps.runtime);
  const observed = await observeComponent(deps.runtime, deps.proxy, ctx, component, teardown);
  for (const c of observed.leftovers) void teardown.begin(c, component.stopTimeout, emit);
  const retired = await retireContainers(deps, component, [...observed.serving, ...observed.draining], emit, teardown);
  const ended = await teardown.settled([...observed.serving, ...observed.draining, ...observed.leftovers, ...observed.tearingDown].map((c) => c.id));
  const failed = ended.find((t) => t.error !== undefined);
  if (failed) throw new EngineError('runtime', `stopping ${component.name}: container ${failed.container.slice(0, 12)}: ${failed.error}`);
  return retired;
}

/**
 * Gantryd's `kill`: no draining. Servers leave the proxy at once (closing their sessions) and the
 * containers are removed.
 */
export async function killComponent(deps: EngineDeps, ctx: HostContext, req: StopRequest): Promise<string[]> {
  const component = resolveComponent(req.config, req.component);
  const emit = req.onEvent ?? (() => undefined);
  const observed = await observeComponent(deps.runtime, deps.proxy, ctx, component);
  const all = [...observed.serving, ...observed.draining, ...observed.leftovers];
  for (const c of all) {
    for (const { frontend } of servedFrontends(component)) await deps.proxy.removeServer(frontend, serverName(c));
    await deps.runtime.remove(c.id);
    emit({ type: 'removed', container: c.id });
  }
  return all.map((c) => c.id);
}
