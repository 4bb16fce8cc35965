import type { ProjectConfig } from '@gantry/spec';
import type { EventSink } from './events';
import { servedFrontends } from './frontends';
import type { HostContext } from './host-context';
import { observeComponent, serverName } from './observe';
import { retireContainers, type Retired } from './retire';
import { resolveComponent, type EngineDeps } from './update';

export interface StopRequest {
  config: ProjectConfig;
  component: string;
  onEvent?: EventSink;
}

/**
 * Gantryd's `stop`: every container of the component drains (up to its drainTimeout) and is then
 * stopped and removed. Its frontends stay, answering 503 until something serves again.
 */
export async function stopComponent(deps: EngineDeps, ctx: HostContext, req: StopRequest): Promise<Retired[]> {
  const component = resolveComponent(req.config, req.component);
  const observed = await observeComponent(deps.runtime, deps.proxy, ctx, component);
  const all = [...observed.serving, ...observed.draining, ...observed.leftovers];
  return retireContainers(deps, component, all, req.onEvent ?? (() => undefined));
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
