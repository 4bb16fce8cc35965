import { z } from 'zod';
import { componentSchema, type Component } from './component';
import { componentLinkProblems } from './component-links';

/** A project's configuration: Gantryd's `{ "components": [...] }`. */
export const projectConfigSchema = z
  .strictObject({ components: z.array(componentSchema).min(1, 'a config needs at least one component') })
  .superRefine((config, ctx) => {
    // Names identify components in etcd keys, containers and proxy sections: they must be unique.
    const seenNames = new Map<string, number>();
    // Every component shares the host's proxy, so an external port can serve only one of them.
    const seenPorts = new Map<number, string>();
    config.components.forEach((component, i) => {
      const first = seenNames.get(component.name);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['components', i, 'name'], message: `duplicate component name "${component.name}" (also components[${first}])` });
      } else seenNames.set(component.name, i);
      component.ports.forEach((port, j) => {
        const owner = seenPorts.get(port.external);
        if (owner !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['components', i, 'ports', j, 'external'], message: `external port ${port.external} is already served by ${owner}` });
        } else seenPorts.set(port.external, `components[${i}].ports[${j}]`);
      });
    });
    for (const problem of componentLinkProblems(config.components)) ctx.addIssue({ code: 'custom', ...problem });
  });
export type ProjectConfig = z.infer<typeof projectConfigSchema>;

export function findComponent(config: ProjectConfig, name: string): Component | undefined {
  return config.components.find((c) => c.name === name);
}
