import type { Component } from './component';

/** One problem with a config's component links: where (a zod path) and what. */
export interface LinkProblem {
  path: Array<string | number>;
  message: string;
}

/** Where each link of the config is defined: link name → the defining component and the indexes of the entry. */
export function definedLinks(components: readonly Component[]): Map<string, { component: string; at: [number, number] }> {
  const links = new Map<string, { component: string; at: [number, number] }>();
  components.forEach((component, i) =>
    component.defineComponentLinks.forEach((link, j) => {
      if (!links.has(link.name)) links.set(link.name, { component: component.name, at: [i, j] });
    }),
  );
  return links;
}

/**
 * What is wrong with a config's component links, each named by its field path:
 * - a link name defined twice (a link is one frontend on each host, served by one component);
 * - a required link no component defines (nothing could ever give it an address);
 * - a component requiring a link it defines itself (its first container would wait for itself);
 * - two required links of one component with the same alias, case aside (their variables would be
 *   the same: Gantryd upper-cases the alias).
 * A link's port need not be one of the component's `ports`: a link can serve a port that is not
 * served to the outside at all (an admin or internal port); every link port is published to the
 * host's proxy like a check port is.
 */
export function componentLinkProblems(components: readonly Component[]): LinkProblem[] {
  const problems: LinkProblem[] = [];
  const links = definedLinks(components);
  components.forEach((component, i) =>
    component.defineComponentLinks.forEach((link, j) => {
      const first = links.get(link.name)!;
      if (first.at[0] !== i || first.at[1] !== j) {
        problems.push({
          path: ['components', i, 'defineComponentLinks', j, 'name'],
          message: `link "${link.name}" is already defined by ${first.component} (components[${first.at[0]}].defineComponentLinks[${first.at[1]}])`,
        });
      }
    }),
  );
  components.forEach((component, i) => {
    const aliases = new Map<string, number>();
    component.requireComponentLinks.forEach((required, j) => {
      const defined = links.get(required.name);
      if (!defined) {
        const known = [...links.keys()];
        problems.push({
          path: ['components', i, 'requireComponentLinks', j, 'name'],
          message: `no component of the config defines link "${required.name}" (${known.length > 0 ? `defined: ${known.join(', ')}` : 'no component defines any link'})`,
        });
      } else if (defined.component === component.name) {
        problems.push({ path: ['components', i, 'requireComponentLinks', j, 'name'], message: `${component.name} defines link "${required.name}" itself: a component cannot require its own link` });
      }
      const alias = required.alias.toUpperCase();
      const before = aliases.get(alias);
      if (before !== undefined) {
        problems.push({ path: ['components', i, 'requireComponentLinks', j, 'alias'], message: `alias "${required.alias}" is already used by requireComponentLinks[${before}] (aliases are upper-cased: ${alias}_CLINK)` });
      } else aliases.set(alias, j);
    });
  });
  return problems;
}
