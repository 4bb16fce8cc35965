import type { ProjectConfig } from '@gantry/spec';
import { servedFrontends } from './frontends';
import type { HostContext } from './host-context';
import { observeComponent, serverName } from './observe';
import { resolveComponent, type EngineDeps } from './update';

export interface ListedContainer {
  id: string;
  name: string;
  version: string;
  image: string;
  /** `tearing-down`: drained, in no frontend, being stopped and removed in the background. */
  role: 'serving' | 'draining' | 'leftover' | 'tearing-down';
  state: string;
  health: string;
  startedAt?: Date;
  /** Live connections through the proxy, over all its frontends and proxy workers. */
  liveConnections: number;
}

/** Gantryd's `list`: the component's containers on this host and what each is doing. */
export async function listComponent(deps: EngineDeps, ctx: HostContext, config: ProjectConfig, name: string): Promise<ListedContainer[]> {
  const component = resolveComponent(config, name);
  const observed = await observeComponent(deps.runtime, deps.proxy, ctx, component, deps.teardown);
  const rows: ListedContainer[] = [];
  const roles = [
    ['serving', observed.serving],
    ['draining', observed.draining],
    ['leftover', observed.leftovers],
    ['tearing-down', observed.tearingDown],
  ] as const;
  for (const [role, containers] of roles) {
    for (const c of containers) {
      let liveConnections = 0;
      if (role === 'serving' || role === 'draining') {
        for (const { frontend } of servedFrontends(component)) liveConnections += await deps.proxy.liveConnections(frontend, serverName(c));
      }
      rows.push({ id: c.id, name: c.name, version: c.version, image: c.image, role, state: c.state, health: c.health, startedAt: c.startedAt, liveConnections });
    }
  }
  return rows;
}
