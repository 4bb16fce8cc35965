import { identifier } from './primitives';

/**
 * The etcd key layout: the one place that knows where anything lives. Everything sits under a
 * configurable prefix (default `/gantry/`) and a layout version, so a future layout can live
 * beside this one during a migration.
 *
 *   <prefix>v1/projects/<project>/config                          project config (ProjectConfig)
 *   <prefix>v1/projects/<project>/desired/<component>             the fleet's desired version (DesiredVersion)
 *   <prefix>v1/projects/<project>/hosts/<host>/desired/<component> what this host runs now (DesiredVersion)
 *   <prefix>v1/projects/<project>/hosts/<host>/registration       the live agent, bound to its lease (HostRegistration)
 *   <prefix>v1/projects/<project>/hosts/<host>/status/<component> what the host really runs (ComponentStatus)
 *   <prefix>v1/projects/<project>/hosts/<host>/agent              the agent's own state and errors (AgentStatus)
 *   <prefix>v1/projects/<project>/rollouts/<component>/request    the active rollout, as asked (RolloutRequest)
 *   <prefix>v1/projects/<project>/rollouts/<component>/control    the operator's latest instruction (RolloutControl)
 *   <prefix>v1/projects/<project>/rollouts/<component>/state      how it goes, coordinator-written (RolloutState)
 *   <prefix>v1/projects/<project>/rollouts/<component>/history/<id> a finished rollout (RolloutHistoryEntry)
 *   <prefix>v1/projects/<project>/coordinator                     the elected coordinator, on its lease (CoordinatorRecord)
 *
 * Spec (config, desired) and status are separate records: operators and tooling write the first,
 * only the host's agent writes the second.
 */
export const LAYOUT_VERSION = 'v1';
export const DEFAULT_PREFIX = '/gantry/';

export type KeyKind = 'config' | 'fleet-desired' | 'host-desired' | 'registration' | 'status' | 'agent';

/** What a key under a project names. */
export type ParsedKey =
  | { kind: 'config'; project: string }
  | { kind: 'fleet-desired'; project: string; component: string }
  | { kind: 'host-desired'; project: string; host: string; component: string }
  | { kind: 'registration'; project: string; host: string }
  | { kind: 'status'; project: string; host: string; component: string }
  | { kind: 'agent'; project: string; host: string };

const segment = (what: string, value: string): string => {
  const ok = identifier.safeParse(value);
  if (!ok.success) throw new Error(`invalid ${what} "${value}" for an etcd key: ${ok.error.issues[0].message}`);
  return value;
};

/** Builds and parses every key of one prefix. */
export class KeyLayout {
  readonly root: string;

  constructor(prefix: string = DEFAULT_PREFIX) {
    const normalized = prefix.endsWith('/') ? prefix : `${prefix}/`;
    if (!normalized.startsWith('/')) throw new Error(`etcd prefix must start with "/": got "${prefix}"`);
    this.root = `${normalized}${LAYOUT_VERSION}/`;
  }

  project(project: string): string {
    return `${this.root}projects/${segment('project', project)}/`;
  }
  config(project: string): string {
    return `${this.project(project)}config`;
  }
  fleetDesired(project: string, component: string): string {
    return `${this.project(project)}desired/${segment('component', component)}`;
  }
  fleetDesiredPrefix(project: string): string {
    return `${this.project(project)}desired/`;
  }
  host(project: string, host: string): string {
    return `${this.project(project)}hosts/${segment('host id', host)}/`;
  }
  hostsPrefix(project: string): string {
    return `${this.project(project)}hosts/`;
  }
  hostDesired(project: string, host: string, component: string): string {
    return `${this.host(project, host)}desired/${segment('component', component)}`;
  }
  registration(project: string, host: string): string {
    return `${this.host(project, host)}registration`;
  }
  status(project: string, host: string, component: string): string {
    return `${this.host(project, host)}status/${segment('component', component)}`;
  }
  agent(project: string, host: string): string {
    return `${this.host(project, host)}agent`;
  }
  rolloutsPrefix(project: string): string {
    return `${this.project(project)}rollouts/`;
  }
  rollout(project: string, component: string): string {
    return `${this.rolloutsPrefix(project)}${segment('component', component)}/`;
  }
  rolloutRequest(project: string, component: string): string {
    return `${this.rollout(project, component)}request`;
  }
  rolloutControl(project: string, component: string): string {
    return `${this.rollout(project, component)}control`;
  }
  rolloutState(project: string, component: string): string {
    return `${this.rollout(project, component)}state`;
  }
  rolloutHistory(project: string, component: string, id?: string): string {
    return `${this.rollout(project, component)}history/${id === undefined ? '' : segment('rollout id', id)}`;
  }
  coordinator(project: string): string {
    return `${this.project(project)}coordinator`;
  }

  /** What a key names, or undefined for a key outside this layout (ignored, never an error). */
  parse(key: string): ParsedKey | undefined {
    if (!key.startsWith(`${this.root}projects/`)) return undefined;
    const parts = key.slice(`${this.root}projects/`.length).split('/');
    const [project, a, b, c, d] = parts;
    if (!project) return undefined;
    if (parts.length === 2 && a === 'config') return { kind: 'config', project };
    if (parts.length === 3 && a === 'desired' && b) return { kind: 'fleet-desired', project, component: b };
    if (a !== 'hosts' || !b) return undefined;
    if (parts.length === 4 && c === 'registration') return { kind: 'registration', project, host: b };
    if (parts.length === 4 && c === 'agent') return { kind: 'agent', project, host: b };
    if (parts.length === 5 && c === 'desired' && d) return { kind: 'host-desired', project, host: b, component: d };
    if (parts.length === 5 && c === 'status' && d) return { kind: 'status', project, host: b, component: d };
    return undefined;
  }
}
