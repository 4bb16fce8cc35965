import type { Component } from '@gantry/spec';
import type { ContainerRuntime, ManagedContainer } from '../runtime/container-runtime';
import type { HostProxy } from '../proxy/proxy';
import { servedFrontends } from './frontends';
import type { HostContext } from './host-context';
import type { ContainerTeardowns } from './teardown';

/** The proxy server name of a container: stable, short, derived from its id alone. */
export function serverName(container: Pick<ManagedContainer, 'id'>): string {
  return `c-${container.id.slice(0, 12)}`;
}

/** What really runs for one component on this host, as Docker and the proxy say. */
export interface ObservedComponent {
  /** Running and taking new traffic through the proxy. */
  serving: ManagedContainer[];
  /** In the proxy but draining: finishing old connections, taking no new ones. */
  draining: ManagedContainer[];
  /**
   * Ours and in no frontend: drained (its teardown was cut short by a restart) or never switched
   * to (interrupted work). Nothing reaches it any more: it only needs stopping and removing.
   */
  leftovers: ManagedContainer[];
  /** Being stopped and removed by the host's teardowns now: never serving again, never torn down twice. */
  tearingDown: ManagedContainer[];
  /** Proxy servers whose container is gone: to be deleted. */
  staleServers: Array<{ frontend: string; server: string }>;
}

/**
 * Reads actual state. A container's role comes from the proxy, not from memory, so an engine that
 * was killed at any point sees the truth when it runs again. Components without ports or links have no
 * proxy role: each running container of theirs counts as serving.
 */
export async function observeComponent(
  runtime: ContainerRuntime,
  proxy: HostProxy,
  ctx: HostContext,
  component: Component,
  teardown?: Pick<ContainerTeardowns, 'has'>,
): Promise<ObservedComponent> {
  const listed = await runtime.list({ project: ctx.project, hostId: ctx.hostId, component: component.name });
  const frontends = servedFrontends(component).map((f) => f.frontend);
  const out: ObservedComponent = { serving: [], draining: [], leftovers: [], tearingDown: [], staleServers: [] };
  // Their servers (none, or a stale one) are as for any other container; their role is settled.
  const containers = listed.filter((c) => !(teardown?.has(c.id) && out.tearingDown.push(c)));
  if (frontends.length === 0) {
    for (const c of containers) (c.state === 'running' ? out.serving : out.leftovers).push(c);
    return out;
  }
  const stateByServer = new Map<string, string>();
  const known = new Set(listed.map(serverName));
  for (const frontend of frontends) {
    for (const server of await proxy.servers(frontend)) {
      if (!known.has(server.name)) {
        out.staleServers.push({ frontend, server: server.name });
        continue;
      }
      // A server ready in any frontend still takes traffic there: that outranks drain.
      if (stateByServer.get(server.name) !== 'ready') stateByServer.set(server.name, server.state);
    }
  }
  // Only links, and none of them has a container of ours: it ran without a proxy role until now
  // (made before it defined a link, or by a gantryd without links). Its running containers serve,
  // as before: the update puts the one it keeps into the link, instead of replacing it.
  const onlyLinks = component.ports.length === 0 && stateByServer.size === 0;
  for (const c of containers) {
    if (onlyLinks) {
      (c.state === 'running' ? out.serving : out.leftovers).push(c);
      continue;
    }
    const state = stateByServer.get(serverName(c));
    if (state === 'ready' && c.state === 'running') out.serving.push(c);
    else if (state !== undefined) out.draining.push(c);
    else out.leftovers.push(c);
  }
  return out;
}
