import type { Component, ProjectConfig } from '@gantry/spec';
import type { Frontend } from '../proxy/frontend';
import type { HostContext } from './host-context';

/** The proxy frontend that serves one external port of a component. */
export function frontendName(component: string, externalPort: number): string {
  return `${component}-${externalPort}`;
}

/**
 * The proxy frontend of a component link. The leading "_" no component name can have keeps it
 * apart from every `component-port` frontend; link names are unique in a config.
 */
export function linkFrontendName(link: string): string {
  return `_link-${link}`;
}

export function componentFrontends(component: Component, bindAddress: string): Frontend[] {
  return component.ports.map((p) => ({ name: frontendName(component.name, p.external), bindAddress, port: p.external, mode: p.kind }));
}

/** A frontend whose servers are a component's containers, and the container port they point at. */
export interface ServedFrontend {
  frontend: string;
  containerPort: number;
}

/**
 * Every frontend a component's containers serve: its ports, then its links. Each new container
 * goes into all of them at once and drains from all of them at once, so a link switches with its
 * component's updates exactly as its ports do.
 */
export function servedFrontends(component: Component): ServedFrontend[] {
  return [
    ...component.ports.map((p) => ({ frontend: frontendName(component.name, p.external), containerPort: p.container })),
    ...component.defineComponentLinks.map((l) => ({ frontend: linkFrontendName(l.name), containerPort: l.port })),
  ];
}

/**
 * Every frontend of every component in the project: the host's proxy serves them all, so
 * updating one component never takes another's frontend away.
 */
export function projectFrontends(config: ProjectConfig, bindAddress: string): Frontend[] {
  return config.components.flatMap((c) => componentFrontends(c, bindAddress));
}

/**
 * The link frontends of the project on this host, each on the link address and its own port (the
 * ports are given on first use, see links/link-ports.ts). None without `ctx.links`.
 */
export async function linkFrontends(config: ProjectConfig, ctx: Pick<HostContext, 'project' | 'links'>): Promise<Frontend[]> {
  const links = ctx.links;
  if (!links) return [];
  const frontends: Frontend[] = [];
  for (const component of config.components) {
    for (const link of component.defineComponentLinks) {
      const endpoint = await links.endpoint(ctx.project, link.name);
      frontends.push({ name: linkFrontendName(link.name), bindAddress: endpoint.address, port: endpoint.port, mode: link.kind });
    }
  }
  return frontends;
}

/** What the host's proxy serves for the project: every component's ports and links. */
export async function hostFrontends(config: ProjectConfig, ctx: HostContext): Promise<Frontend[]> {
  return [...projectFrontends(config, ctx.bindAddress), ...(await linkFrontends(config, ctx))];
}
