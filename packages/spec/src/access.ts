import type { KeyLayout } from './keys';

/**
 * Who may write what, in etcd's terms (key ranges and read/write permissions). One role per kind
 * of writer of a project, named `gantry/<project>/<kind>` ("/" is in no project or host name, so a
 * role's name says whose it is):
 *
 * - `host/<host>`: one host's agent. Reads the config, the fleet's desired versions, the
 *   maintenance keys and its own host's keys; writes only its registration, its agent record and its statuses. It cannot read
 *   other hosts' keys, nor write anything that moves another host.
 * - `coordinator`: the rollout coordinator. Reads the project; writes the hosts' keys (their
 *   desired versions, and the status keys of gone hosts it sweeps), the rollouts, the fleet's
 *   desired versions and the coordinator key.
 * - `operator`: people and tooling. Reads the project; writes the config, the fleet's and hosts'
 *   desired versions, the rollouts (requests and controls), the locks and maintenance.
 *
 * etcd grants key ranges, not patterns: `hosts/<any>/desired/` cannot be granted without the rest of
 * `hosts/`, so the coordinator and operators may write every host key (see docs/security.md).
 */
export type AccessKind = 'host' | 'coordinator' | 'operator';
export const ACCESS_KINDS: readonly AccessKind[] = ['host', 'coordinator', 'operator'];

/** etcd's permission types (authpb.Permission.Type). */
export type EtcdPermission = 'Read' | 'Write' | 'Readwrite';

export interface KeyGrant {
  permission: EtcdPermission;
  /** A key, or a prefix when `prefix` is true. */
  key: string;
  prefix: boolean;
  /** What the role needs it for (shown by `gantry access list`). */
  why: string;
}

export const ROLE_NAMESPACE = 'gantry/';

/** `gantry/<project>/`: every role and default user name of the project starts with it. */
export function accessNamespace(project: string): string {
  return `${ROLE_NAMESPACE}${project}/`;
}

/** The role of a kind: `gantry/<project>/operator`, `gantry/<project>/coordinator`, `gantry/<project>/host/<host>`. */
export function roleName(project: string, kind: AccessKind, host?: string): string {
  if (kind === 'host') {
    if (!host) throw new Error('a host role needs the host id');
    return `${accessNamespace(project)}host/${host}`;
  }
  return `${accessNamespace(project)}${kind}`;
}

/** The etcd user `gantry access add-<kind>` creates when not told `--user`: `gantry/<project>/host/<host>`, `gantry/<project>/operator/<name>`. */
export function defaultUserName(project: string, kind: AccessKind, name: string): string {
  return `${accessNamespace(project)}${kind}/${name}`;
}

/** The key ranges a kind's role grants, for one project (and host). */
export function roleGrants(keys: KeyLayout, project: string, kind: AccessKind, host?: string): KeyGrant[] {
  const readProject: KeyGrant = { permission: 'Read', key: keys.project(project), prefix: true, why: 'reads the whole project' };
  switch (kind) {
    case 'host': {
      if (!host) throw new Error('a host role needs the host id');
      const own = keys.host(project, host);
      return [
        // A prefix: watches of a single key are prefix watches in Gantry's mirror (config* holds no other valid key).
        { permission: 'Read', key: keys.config(project), prefix: true, why: 'the config it runs' },
        { permission: 'Read', key: keys.fleetDesiredPrefix(project), prefix: true, why: "the fleet's desired versions" },
        { permission: 'Read', key: own, prefix: true, why: "its own host's keys (its desired versions among them)" },
        { permission: 'Read', key: keys.maintenancePrefix(project), prefix: true, why: 'components in maintenance (which hosts answer 503)' },
        { permission: 'Write', key: keys.registration(project, host), prefix: false, why: 'its registration' },
        { permission: 'Write', key: keys.agent(project, host), prefix: false, why: 'its agent record' },
        { permission: 'Write', key: `${own}status/`, prefix: true, why: 'its components’ statuses' },
      ];
    }
    case 'coordinator':
      return [
        readProject,
        { permission: 'Write', key: keys.hostsPrefix(project), prefix: true, why: "hosts' desired versions; sweeping gone hosts' statuses" },
        { permission: 'Write', key: keys.rolloutsPrefix(project), prefix: true, why: 'rollout state and history' },
        { permission: 'Write', key: keys.fleetDesiredPrefix(project), prefix: true, why: "the fleet's desired version when a rollout finishes" },
        { permission: 'Write', key: keys.coordinator(project), prefix: false, why: 'the election of the coordinator' },
      ];
    case 'operator':
      return [
        readProject,
        { permission: 'Write', key: keys.config(project), prefix: false, why: 'the config' },
        { permission: 'Write', key: keys.fleetDesiredPrefix(project), prefix: true, why: "the fleet's desired versions" },
        { permission: 'Write', key: keys.hostsPrefix(project), prefix: true, why: "hosts' desired versions (set-version --host)" },
        { permission: 'Write', key: keys.rolloutsPrefix(project), prefix: true, why: 'rollout requests and controls' },
        { permission: 'Write', key: keys.lock(project), prefix: true, why: 'deploy locks (lock, locks/*)' },
        { permission: 'Write', key: keys.maintenancePrefix(project), prefix: true, why: 'maintenance (gantry maintenance on|off)' },
      ];
    default:
      return kind satisfies never;
  }
}

/**
 * The writes a coordinator makes, one of each kind, for asking etcd whether credentials allow
 * coordinating (a transaction that can never apply, but whose every operation etcd checks).
 */
export function coordinatorProbeKeys(keys: KeyLayout, project: string): { puts: string[]; deletePrefixes: string[] } {
  const probe = 'gantry-permission-probe';
  return {
    puts: [keys.coordinator(project), keys.hostDesired(project, probe, probe), keys.rolloutState(project, probe), keys.fleetDesired(project, probe)],
    // Another host than the puts': etcd refuses a transaction whose operations overlap.
    deletePrefixes: [keys.host(project, `${probe}-gone`)],
  };
}
