import {
  desiredVersionSchema,
  parseJson,
  projectConfigSchema,
  type Component,
  type DesiredVersion,
  type KeyLayout,
  type ProjectConfig,
} from '@gantry/spec';

/** A key whose value could not be used, and why. */
export interface KeyProblem {
  key: string;
  reason: string;
}

/** What one host should run of one component, and the key that says so. */
export interface ComponentIntent {
  component: Component;
  /** undefined: nothing says what to run (the component is left as it is). */
  desired?: DesiredVersion;
  /** The key `desired` came from: the host's own, else the fleet's. */
  source?: string;
  /** Problems with the keys that would say what to run. */
  problems: KeyProblem[];
}

export interface HostIntent {
  config?: ProjectConfig;
  /** Problems with the config key; with one, `config` is the last valid config if any. */
  configProblems: KeyProblem[];
  components: ComponentIntent[];
}

/**
 * Turns the raw values under a project's keys into what this host should run. Pure and total:
 * a value that fails validation becomes a problem naming its key, never an exception, and the
 * rest of the intent still stands. The host's own desired key wins over the fleet's.
 *
 * `lastGoodConfig` keeps the host running what it ran when the config key turns invalid.
 */
export function hostIntent(keys: KeyLayout, project: string, host: string, values: ReadonlyMap<string, string>, lastGoodConfig?: ProjectConfig): HostIntent {
  const configKey = keys.config(project);
  const configProblems: KeyProblem[] = [];
  let config = lastGoodConfig;
  const configText = values.get(configKey);
  if (configText !== undefined) {
    const parsed = parseJson(projectConfigSchema, configText, configKey);
    if (parsed.ok) config = parsed.value;
    else configProblems.push({ key: configKey, reason: parsed.error.message });
  }
  const components = (config?.components ?? []).map((component): ComponentIntent => {
    const problems: KeyProblem[] = [];
    const read = (key: string): DesiredVersion | undefined => {
      const text = values.get(key);
      if (text === undefined) return undefined;
      const parsed = parseJson(desiredVersionSchema, text, key);
      if (parsed.ok) return parsed.value;
      problems.push({ key, reason: parsed.error.message });
      return undefined;
    };
    const hostKey = keys.hostDesired(project, host, component.name);
    const fleetKey = keys.fleetDesired(project, component.name);
    const own = read(hostKey);
    const fleet = read(fleetKey);
    // An invalid host key must not let the fleet's value through: that would run a version
    // nobody chose for this host. The component then stays as it is until the key is fixed.
    if (own) return { component, desired: own, source: hostKey, problems };
    if (problems.some((p) => p.key === hostKey)) return { component, problems };
    return fleet ? { component, desired: fleet, source: fleetKey, problems } : { component, problems };
  });
  return { config, configProblems, components };
}
