import { valueOf, type Component, type DesiredVersion, type FleetRecord, type KeyLayout, type ProjectConfig, type RecordSource } from '@gantry/spec';

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
  /** That key's mod revision, when the records know it (a FleetMirror does): the observed generation the status reports. */
  sourceRevision?: number;
  /** Problems with the keys that would say what to run. */
  problems: KeyProblem[];
}

export interface HostIntent {
  config?: ProjectConfig;
  /** Problems with the config key; with one, `config` is the last valid config if any. */
  configProblems: KeyProblem[];
  components: ComponentIntent[];
  /**
   * Keys under what the agent watches that name nothing it can act on (an invalid name, an unknown
   * key kind): ignored, and reported.
   */
  ignoredKeys: KeyProblem[];
}

const problemOf = (record: FleetRecord): KeyProblem | undefined => (record.problem === undefined ? undefined : { key: record.key, reason: record.problem });

/** Records that also know each key's mod revision (a FleetMirror). */
type Revisions = { modRevision?(key: string): number };

/**
 * Turns the records under a project's keys into what this host should run. Pure and total: a
 * value that fails validation is a problem naming its key, never an exception, and the rest of
 * the intent still stands. The host's own desired key wins over the fleet's.
 *
 * `lastGoodConfig` keeps the host running what it ran when the config key turns invalid.
 */
export function hostIntent(keys: KeyLayout, project: string, host: string, records: RecordSource & Revisions, lastGoodConfig?: ProjectConfig): HostIntent {
  const revisionOf = (key: string) => (records.modRevision ? { sourceRevision: records.modRevision(key) } : {});
  const configKey = keys.config(project);
  const configRecord = records.get(configKey);
  const configProblem = configRecord && problemOf(configRecord);
  const config = valueOf(configRecord, 'config') ?? lastGoodConfig;
  const components = (config?.components ?? []).map((component): ComponentIntent => {
    const problems: KeyProblem[] = [];
    const read = (key: string): DesiredVersion | undefined => {
      const record = records.get(key);
      const problem = record && problemOf(record);
      if (problem) problems.push(problem);
      return valueOf(record, key === hostKey ? 'host-desired' : 'fleet-desired');
    };
    const hostKey = keys.hostDesired(project, host, component.name);
    const fleetKey = keys.fleetDesired(project, component.name);
    const own = read(hostKey);
    const fleet = read(fleetKey);
    // An invalid host key must not let the fleet's value through: that would run a version
    // nobody chose for this host. The component then stays as it is until the key is fixed.
    if (own) return { component, desired: own, source: hostKey, ...revisionOf(hostKey), problems };
    if (problems.some((p) => p.key === hostKey)) return { component, problems };
    return fleet ? { component, desired: fleet, source: fleetKey, ...revisionOf(fleetKey), problems } : { component, problems };
  });
  // Problems of the components' own keys are in their status; the rest would go unseen without this.
  const reported = new Set(components.flatMap((c) => c.problems.map((p) => p.key)));
  const ignoredKeys: KeyProblem[] = [];
  for (const prefix of [keys.fleetDesiredPrefix(project), `${keys.host(project, host)}desired/`]) {
    for (const [key, record] of records.entries(prefix)) {
      const problem = problemOf(record);
      if (problem && !reported.has(key)) ignoredKeys.push(problem);
    }
  }
  return { config, configProblems: configProblem ? [configProblem] : [], components, ignoredKeys };
}
