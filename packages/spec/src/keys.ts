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
 *   <prefix>v1/projects/<project>/hosts/<host>/prepull/<component> a rollout's preflight: pull this version now (PrepullRequest)
 *   <prefix>v1/projects/<project>/rollouts/<component>/request    the active rollout, as asked (RolloutRequest)
 *   <prefix>v1/projects/<project>/rollouts/<component>/control    the operator's latest instruction (RolloutControl)
 *   <prefix>v1/projects/<project>/rollouts/<component>/state      how it goes, coordinator-written (RolloutState)
 *   <prefix>v1/projects/<project>/rollouts/<component>/history/<id> a finished rollout (RolloutHistoryEntry)
 *   <prefix>v1/projects/<project>/coordinator                     the elected coordinator, on its lease (CoordinatorRecord)
 *   <prefix>v1/projects/<project>/lock                            the project's deploy lock (LockRecord)
 *   <prefix>v1/projects/<project>/locks/<component>               one component's deploy lock (LockRecord)
 *   <prefix>v1/projects/<project>/maintenance/<component>         the component answers 503 on the hosts it selects (MaintenanceRecord)
 *
 * Spec (config, desired) and status are separate records: operators and tooling write the first,
 * only the host's agent writes the second.
 */
export const LAYOUT_VERSION = 'v1';
export const DEFAULT_PREFIX = '/gantry/';

export type KeyKind =
  | 'config'
  | 'fleet-desired'
  | 'host-desired'
  | 'registration'
  | 'status'
  | 'agent'
  | 'prepull'
  | 'rollout-request'
  | 'rollout-control'
  | 'rollout-state'
  | 'rollout-history'
  | 'coordinator'
  | 'lock'
  | 'maintenance';

/** What a key under a project names. Every name in it is a valid identifier. */
export type ParsedKey =
  | { kind: 'config'; project: string }
  | { kind: 'fleet-desired'; project: string; component: string }
  | { kind: 'host-desired'; project: string; host: string; component: string }
  | { kind: 'registration'; project: string; host: string }
  | { kind: 'status'; project: string; host: string; component: string }
  | { kind: 'agent'; project: string; host: string }
  | { kind: 'prepull'; project: string; host: string; component: string }
  | { kind: 'rollout-request'; project: string; component: string }
  | { kind: 'rollout-control'; project: string; component: string }
  | { kind: 'rollout-state'; project: string; component: string }
  | { kind: 'rollout-history'; project: string; component: string; id: string }
  | { kind: 'coordinator'; project: string }
  /** `component` absent: the project's lock. */
  | { kind: 'lock'; project: string; component?: string }
  | { kind: 'maintenance'; project: string; component: string };

/** A key of one kind, e.g. `KeyOf<'status'>` has `host` and `component`. */
export type KeyOf<K extends KeyKind> = Extract<ParsedKey, { kind: K }>;

/**
 * What any string is to the layout:
 * - `ours`: a key of a known kind whose names are all valid;
 * - `outside`: not under `<root>projects/` (another layout version, another tool): ignored, never reported;
 * - `invalid`: under `<root>projects/` but naming nothing valid (an unknown kind, an invalid name in
 *   any position): never acted on, reported with `reason`. `project`/`host` say where it belongs when
 *   those segments are valid, so the report can be shown with them.
 */
export type KeyClass =
  | { type: 'ours'; key: ParsedKey }
  | { type: 'outside' }
  | { type: 'invalid'; reason: string; project?: string; host?: string };

const nameProblem = (what: string, value: string): string | undefined => {
  if (value === '') return `empty ${what}`;
  const ok = identifier.safeParse(value);
  return ok.success ? undefined : `invalid ${what} ${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)}: ${ok.error.issues[0].message}`;
};

/** The names each kind's key holds after `projects/<project>/`, in order (`*` = a name, other = literal). */
const SHAPES: ReadonlyArray<{ kind: KeyKind; parts: readonly string[]; names: readonly ('host' | 'component' | 'id')[] }> = [
  { kind: 'config', parts: ['config'], names: [] },
  { kind: 'coordinator', parts: ['coordinator'], names: [] },
  { kind: 'lock', parts: ['lock'], names: [] },
  { kind: 'lock', parts: ['locks', '*'], names: ['component'] },
  { kind: 'maintenance', parts: ['maintenance', '*'], names: ['component'] },
  { kind: 'fleet-desired', parts: ['desired', '*'], names: ['component'] },
  { kind: 'registration', parts: ['hosts', '*', 'registration'], names: ['host'] },
  { kind: 'agent', parts: ['hosts', '*', 'agent'], names: ['host'] },
  { kind: 'host-desired', parts: ['hosts', '*', 'desired', '*'], names: ['host', 'component'] },
  { kind: 'status', parts: ['hosts', '*', 'status', '*'], names: ['host', 'component'] },
  { kind: 'prepull', parts: ['hosts', '*', 'prepull', '*'], names: ['host', 'component'] },
  { kind: 'rollout-request', parts: ['rollouts', '*', 'request'], names: ['component'] },
  { kind: 'rollout-control', parts: ['rollouts', '*', 'control'], names: ['component'] },
  { kind: 'rollout-state', parts: ['rollouts', '*', 'state'], names: ['component'] },
  { kind: 'rollout-history', parts: ['rollouts', '*', 'history', '*'], names: ['component', 'id'] },
];
const NAME_LABEL = { host: 'host id', component: 'component name', id: 'rollout id' } as const;

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
  /** A rollout's preflight instruction to host H: pull component C's new version (the coordinator writes it, agent H follows it). */
  prepull(project: string, host: string, component: string): string {
    return `${this.host(project, host)}prepull/${segment('component', component)}`;
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
  /** The project's deploy lock, or one component's. */
  lock(project: string, component?: string): string {
    return component === undefined ? `${this.project(project)}lock` : `${this.project(project)}locks/${segment('component', component)}`;
  }
  locksPrefix(project: string): string {
    return `${this.project(project)}locks/`;
  }
  /** Component C in maintenance (the operator writes it; hosts and the CLI read it). */
  maintenance(project: string, component: string): string {
    return `${this.maintenancePrefix(project)}${segment('component', component)}`;
  }
  maintenancePrefix(project: string): string {
    return `${this.project(project)}maintenance/`;
  }

  /** What a key names, or undefined for any key that is not a valid key of this layout. Never throws. */
  parse(key: string): ParsedKey | undefined {
    const c = this.classify(key);
    return c.type === 'ours' ? c.key : undefined;
  }

  /** The host segment of a key under some project's `hosts/`, as written (valid or not); undefined for any other key. */
  hostSegment(key: string): string | undefined {
    const base = `${this.root}projects/`;
    if (typeof key !== 'string' || !key.startsWith(base)) return undefined;
    const [, hosts, host] = key.slice(base.length).split('/');
    return hosts === 'hosts' && host !== undefined ? host : undefined;
  }

  /** What any string is to this layout (see {@link KeyClass}). Total: never throws, whatever the input. */
  classify(key: string): KeyClass {
    const base = `${this.root}projects/`;
    if (typeof key !== 'string' || !key.startsWith(base)) return { type: 'outside' };
    const [project = '', ...rest] = key.slice(base.length).split('/');
    const projectProblem = nameProblem('project name', project);
    if (projectProblem) return { type: 'invalid', reason: projectProblem };
    const host = rest[0] === 'hosts' && rest.length > 1 && !nameProblem('host id', rest[1]!) ? rest[1] : undefined;
    const where = { project, ...(host !== undefined && { host }) };
    const shape = SHAPES.find((s) => s.parts.length === rest.length && s.parts.every((p, i) => p === '*' || p === rest[i]));
    if (!shape) return { type: 'invalid', reason: `not a key of layout ${LAYOUT_VERSION} (unknown key kind under projects/${project}/)`, ...where };
    const names: Record<string, string> = {};
    let n = 0;
    for (let i = 0; i < shape.parts.length; i++) {
      if (shape.parts[i] !== '*') continue;
      const name = shape.names[n++]!;
      const problem = nameProblem(NAME_LABEL[name], rest[i]!);
      if (problem) return { type: 'invalid', reason: problem, ...where };
      names[name] = rest[i]!;
    }
    return { type: 'ours', key: { kind: shape.kind, project, ...names } as ParsedKey };
  }
}
