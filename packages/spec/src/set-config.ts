/**
 * Gantryd's `--setconfig NAME.FIELD=VALUE`: one field of one component changed on the command line,
 * over the config file, before the result is validated like the file itself. `FIELD` may go deeper
 * (`web.ports.0.external=8080`, or `web.ports[0].external=8080`). `VALUE` is JSON when it parses
 * as JSON (`5000`, `true`, `["a","b"]`, `"quoted"`), else the text as written (`v2`).
 */
export interface ConfigOverride {
  /** As written, for messages. */
  text: string;
  component: string;
  path: Array<string | number>;
  value: unknown;
}

/** A malformed override, or one that names what the config does not have. The message names the override. */
export class ConfigOverrideError extends Error {
  constructor(
    readonly override: string,
    reason: string,
  ) {
    super(`--setconfig ${override}: ${reason}`);
    this.name = 'ConfigOverrideError';
  }
}

export function parseConfigOverride(text: string): ConfigOverride {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new ConfigOverrideError(text, 'expected NAME.FIELD=VALUE, e.g. web.tag=v2');
  const target = text.slice(0, eq);
  const rawValue = text.slice(eq + 1);
  const segments = target.replace(/\[(\d+)\]/g, '.$1').split('.');
  if (segments.length < 2 || segments.some((s) => s === '')) throw new ConfigOverrideError(text, `"${target}" is not NAME.FIELD (a component name, a dot, a field: web.tag)`);
  const [component, ...rest] = segments as [string, ...string[]];
  // Never a path into an object's prototype: `web.__proto__.x=1` would change every object.
  if (rest.some((s) => s === '__proto__' || s === 'constructor' || s === 'prototype')) throw new ConfigOverrideError(text, `"${target}" names no config field`);
  let value: unknown;
  try {
    value = JSON.parse(rawValue);
  } catch {
    value = rawValue;
  }
  return { text, component, path: rest.map((s) => (/^\d+$/.test(s) ? Number(s) : s)), value };
}

/**
 * The raw config with every override applied, in order (a later one wins); `raw` is not changed.
 * Throws a ConfigOverrideError for a component the config does not have, or a path through a
 * value that is not an object or an array.
 */
export function applyConfigOverrides(raw: unknown, overrides: readonly ConfigOverride[]): unknown {
  if (overrides.length === 0) return raw;
  const config = structuredClone(raw) as { components?: unknown };
  const components = Array.isArray(config?.components) ? (config.components as unknown[]) : undefined;
  for (const o of overrides) {
    const component = components?.find((c): c is Record<string, unknown> => typeof c === 'object' && c !== null && (c as { name?: unknown }).name === o.component);
    if (!component) {
      const names = (components ?? []).map((c) => (c as { name?: unknown })?.name).filter((n) => typeof n === 'string');
      throw new ConfigOverrideError(o.text, `the config has no component "${o.component}"${names.length ? ` (it has: ${names.join(', ')})` : ''}`);
    }
    let node: unknown = component;
    for (const [i, key] of o.path.entries()) {
      const last = i === o.path.length - 1;
      const where = [o.component, ...o.path.slice(0, i)].join('.');
      if (Array.isArray(node)) {
        if (typeof key !== 'number') throw new ConfigOverrideError(o.text, `${where} is a list: index it with a number (${where}.0)`);
        if (key > node.length) throw new ConfigOverrideError(o.text, `${where} has ${node.length} item(s): index ${key} would leave a hole`);
      } else if (typeof node !== 'object' || node === null) {
        throw new ConfigOverrideError(o.text, `${where} is ${JSON.stringify(node)}, not an object or a list`);
      }
      const holder = node as Record<string | number, unknown>;
      if (last) holder[key] = o.value;
      else {
        if (holder[key] === undefined) holder[key] = typeof o.path[i + 1] === 'number' ? [] : {};
        node = holder[key];
      }
    }
  }
  return config;
}
