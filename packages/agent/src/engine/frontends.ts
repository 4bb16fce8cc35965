import type { Component, ProjectConfig } from '@gantry/spec';
import type { Frontend } from '../proxy/frontend';

/** The proxy frontend that serves one external port of a component. */
export function frontendName(component: string, externalPort: number): string {
  return `${component}-${externalPort}`;
}

export function componentFrontends(component: Component, bindAddress: string): Frontend[] {
  return component.ports.map((p) => ({ name: frontendName(component.name, p.external), bindAddress, port: p.external, mode: p.kind }));
}

/**
 * Every frontend of every component in the project: the host's proxy serves them all, so
 * updating one component never takes another's frontend away.
 */
export function projectFrontends(config: ProjectConfig, bindAddress: string): Frontend[] {
  return config.components.flatMap((c) => componentFrontends(c, bindAddress));
}
