import { findComponent, imageReference, invalidRecords, recordsOf, type KeyLayout, type ProjectConfig, type RecordSource } from '@gantry/spec';
import type { KeyProblem } from './desired-state';

/** One pull a rollout's preflight asks of this host: the image its update will run. */
export interface PrepullJob {
  component: string;
  rollout: string;
  version: string;
  /** The component's `repo` in this host's config with the version as tag (or its digest), as the update will run it. */
  image: string;
}

/** Whether a pull of `version` is needed even when an image of that tag is present: what an update does too. */
export const pullPolicyOf = (version: string): 'missing' | 'always' => (version === 'latest' ? 'always' : 'missing');

/**
 * The pulls this host's prepull keys (`hosts/<host>/prepull/<component>`) ask for, by component.
 * Pure and total: an invalid value, or one naming a component the config does not have, is a
 * problem naming its key and asks for nothing.
 */
export function prepullIntent(keys: KeyLayout, project: string, host: string, records: RecordSource, config: ProjectConfig | undefined): { jobs: Map<string, PrepullJob>; problems: KeyProblem[] } {
  const prefix = `${keys.host(project, host)}prepull/`;
  const jobs = new Map<string, PrepullJob>();
  const problems: KeyProblem[] = [...invalidRecords(records, prefix)].map((r) => ({ key: r.key, reason: r.problem }));
  for (const { key, ref, value } of recordsOf(records, 'prepull', prefix)) {
    const component = config && findComponent(config, ref.component);
    if (!component) {
      if (config) problems.push({ key, reason: `prepull of component "${ref.component}", which the config does not have: nothing pulled` });
      continue;
    }
    jobs.set(ref.component, { component: ref.component, rollout: value.rollout, version: value.version, image: imageReference(component, value.version) });
  }
  return { jobs, problems };
}
