import type { Component } from '@gantry/spec';
import type { HostProxy } from '../proxy/proxy';
import type { ManagedContainer, PublishedPort } from '../runtime/container-runtime';
import { servedFrontends, type ServedFrontend } from './frontends';
import { serverName } from './observe';

export interface PortChange {
  container: string;
  frontend: string;
  from: PublishedPort;
  to: PublishedPort;
}

/**
 * The proxy server changes that make each container's servers point at the ports Docker publishes
 * now: a dockerd restart without live-restore restarts containers (their restart policy) on new
 * ephemeral ports, while HAProxy still sends to the old ones. Pure: servers as the proxy lists them
 * per frontend, in the order of `frontends` (the component's, see servedFrontends). A container
 * without a published port (not running) is left as it is: what Docker does not say is no reason
 * to change anything.
 */
export function portChanges(frontends: ServedFrontend[], serversByFrontend: Array<Array<{ name: string; address: string; port: number }>>, containers: ManagedContainer[]): PortChange[] {
  const changes: PortChange[] = [];
  frontends.forEach(({ frontend, containerPort }, i) => {
    for (const c of containers) {
      const server = serversByFrontend[i]?.find((s) => s.name === serverName(c));
      const now = c.hostPorts[containerPort];
      if (!server || !now) continue;
      if (server.address !== now.host || server.port !== now.port) changes.push({ container: c.id, frontend, from: { host: server.address, port: server.port }, to: now });
    }
  });
  return changes;
}

/** Points the proxy's servers of these containers at their current published ports, each in the state it has. */
export async function syncServerPorts(proxy: HostProxy, component: Component, containers: ManagedContainer[]): Promise<PortChange[]> {
  const served = servedFrontends(component);
  const frontends = served.map((f) => f.frontend);
  if (frontends.length === 0 || containers.length === 0) return [];
  const servers = await Promise.all(frontends.map((f) => proxy.servers(f)));
  const changes = portChanges(served, servers, containers);
  for (const change of changes) {
    const state = servers[frontends.indexOf(change.frontend)].find((s) => s.name === serverName({ id: change.container }))!.state;
    await proxy.addServer(change.frontend, { name: serverName({ id: change.container }), address: change.to.host, port: change.to.port }, state);
  }
  return changes;
}

/**
 * Puts a serving container into each of its component's frontends that lacks it, as ready: a
 * frontend the config added without needing a new container (a link on a port the container
 * already publishes). Returns the frontends it was added to.
 */
export async function addMissingServers(proxy: HostProxy, component: Component, container: ManagedContainer): Promise<string[]> {
  const added: string[] = [];
  for (const { frontend, containerPort } of servedFrontends(component)) {
    const endpoint = container.hostPorts[containerPort];
    if (!endpoint || (await proxy.servers(frontend)).some((s) => s.name === serverName(container))) continue;
    await proxy.addServer(frontend, { name: serverName(container), address: endpoint.host, port: endpoint.port }, 'ready');
    added.push(frontend);
  }
  return added;
}
