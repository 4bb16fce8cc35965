import { readFileSync } from 'node:fs';
import { EtcdRoleExistsError, EtcdRoleNotGrantedError, EtcdUserExistsError, EtcdUserNotFoundError, Range } from 'etcd3';
import { accessNamespace, roleGrants, type AccessKind, type EtcdPermission, type KeyGrant } from '@gantry/spec';
import { CliError } from '../cli-error';
import { ExitCode } from '../exit-codes';
import type { FleetClient } from '../fleet/fleet-client';

/** One grant as etcd stores it: start key and range end (empty for a single key). */
interface StoredGrant {
  permission: EtcdPermission;
  key: string;
  rangeEnd: string;
}

/** What reconciling a role did. */
export interface RoleResult {
  role: string;
  created: boolean;
  granted: KeyGrant[];
  /** Grants the role had that Gantry does not give it (from an older version or a hand edit): revoked. */
  revoked: Array<{ permission: EtcdPermission; key: string; rangeEnd: string }>;
  grants: KeyGrant[];
}

export interface UserResult {
  user: string;
  created: boolean;
  /** `file` when a password was set from --password-file; `certificate` for a user without one. */
  authenticates: 'password' | 'certificate';
  passwordChanged: boolean;
  roles: string[];
}

const rangeEndOf = (grant: KeyGrant): string => (grant.prefix ? Range.prefix(grant.key).end.toString('utf8') : '');
const sameGrant = (a: StoredGrant, b: StoredGrant) => a.permission === b.permission && a.key === b.key && a.rangeEnd === b.rangeEnd;

/**
 * Creates the role when missing and makes its grants exactly `roleGrants(...)`: missing ones
 * granted, others revoked. Idempotent: run again, it changes nothing.
 */
export async function reconcileRole(fleet: FleetClient, role: string, kind: AccessKind, host?: string): Promise<RoleResult> {
  const grants = roleGrants(fleet.keys, fleet.project, kind, host);
  const etcd = fleet.etcd;
  const created = await fleet.call(`creating role ${role}`, async () => {
    try {
      await etcd.role(role).create();
      return true;
    } catch (err) {
      if (err instanceof EtcdRoleExistsError) return false;
      throw err;
    }
  });
  const stored = await storedGrants(fleet, role);
  const wanted: StoredGrant[] = grants.map((g) => ({ permission: g.permission, key: g.key, rangeEnd: rangeEndOf(g) }));
  const granted = grants.filter((_, i) => !stored.some((s) => sameGrant(s, wanted[i]!)));
  // etcd keeps one permission per key range (granting on a range it has replaces the type), so
  // what to revoke is what covers a range Gantry does not grant at all.
  const revoked = stored.filter((s) => !wanted.some((w) => w.key === s.key && w.rangeEnd === s.rangeEnd));
  for (const g of granted) {
    await fleet.call(`granting ${g.permission} on ${g.key}${g.prefix ? '*' : ''} to role ${role}`, () =>
      etcd.role(role).grant(g.prefix ? { permission: g.permission, range: Range.prefix(g.key) } : { permission: g.permission, key: g.key }),
    );
  }
  for (const r of revoked) {
    await fleet.call(`revoking ${grantRange(r)} from role ${role}`, () => etcd.role(role).revoke({ permission: r.permission, range: new Range(r.key, r.rangeEnd) }));
  }
  return { role, created, granted, revoked, grants };
}

async function storedGrants(fleet: FleetClient, role: string): Promise<StoredGrant[]> {
  const perms = await fleet.call(`reading role ${role}`, () => fleet.etcd.role(role).permissions());
  return perms.map((p) => ({ permission: p.permission as EtcdPermission, key: p.range.start.toString('utf8'), rangeEnd: p.range.end.toString('utf8') }));
}

/** The password in `file`: its content without the trailing newline; empty is an error naming the file. */
export function readPasswordFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read the password file ${file}: ${(err as Error).message}`, ExitCode.invalidInput, { file });
  }
  const password = text.replace(/\r?\n$/, '');
  if (password === '') throw new CliError(`the password file ${file} is empty`, ExitCode.invalidInput, { file });
  if (/[\r\n]/.test(password)) throw new CliError(`the password file ${file} has more than one line; put the password alone on its first line`, ExitCode.invalidInput, { file });
  return password;
}

/**
 * Creates the user when missing (with the password, or without one for a client-certificate user,
 * whose certificate's CN is its name), sets the password when one is given, and grants it `role`.
 */
export async function ensureUser(fleet: FleetClient, user: string, role: string, password: string | undefined): Promise<UserResult> {
  const etcd = fleet.etcd;
  const existing = await fleet.call(`reading user ${user}`, async () => {
    try {
      return (await etcd.user(user).roles()).map((r) => r.name);
    } catch (err) {
      if (err instanceof EtcdUserNotFoundError) return undefined;
      throw err;
    }
  });
  let created = false;
  let passwordChanged = false;
  if (existing === undefined) {
    await fleet.call(`creating user ${user}`, async () => {
      try {
        // etcd 3.4's no_password: the user can only authenticate with a client certificate (CN = name).
        await etcd.auth.userAdd({ name: user, password: password ?? '', ...(password === undefined && { options: { no_password: true } }) });
      } catch (err) {
        if (!(err instanceof EtcdUserExistsError)) throw err;
      }
    });
    created = true;
  } else if (password !== undefined) {
    await fleet.call(`setting the password of user ${user}`, () => etcd.user(user).setPassword(password));
    passwordChanged = true;
  }
  const roles = existing ?? [];
  if (!roles.includes(role)) {
    await fleet.call(`granting role ${role} to user ${user}`, () => etcd.user(user).addRole(role));
    roles.push(role);
  }
  return { user, created, authenticates: password === undefined ? 'certificate' : 'password', passwordChanged: passwordChanged || (created && password !== undefined), roles };
}

/** The project's roles (`gantry/<project>/...`), each with its grants and the users holding it. */
export async function listAccess(fleet: FleetClient): Promise<Array<{ role: string; grants: StoredGrant[]; users: string[] }>> {
  const namespace = accessNamespace(fleet.project);
  const roles = (await fleet.call('listing roles', () => fleet.etcd.getRoles())).map((r) => r.name).filter((name) => name.startsWith(namespace));
  const users = await fleet.call('listing users', () => fleet.etcd.getUsers());
  const holders = new Map<string, string[]>(roles.map((r) => [r, []]));
  for (const user of users) {
    const theirs = await fleet.call(`reading user ${user.name}`, async () => {
      try {
        return await user.roles();
      } catch (err) {
        if (err instanceof EtcdUserNotFoundError || err instanceof EtcdRoleNotGrantedError) return [];
        throw err;
      }
    });
    for (const r of theirs) holders.get(r.name)?.push(user.name);
  }
  const result = [];
  for (const role of roles.sort()) result.push({ role, grants: await storedGrants(fleet, role), users: holders.get(role) ?? [] });
  return result;
}

/** `key`, `key*` (a prefix) or `[key, end)`, for a stored grant. */
export function grantRange(g: Pick<StoredGrant, 'key' | 'rangeEnd'>): string {
  if (!g.rangeEnd) return g.key;
  return Range.prefix(g.key).end.toString('utf8') === g.rangeEnd ? `${g.key}*` : `[${g.key}, ${g.rangeEnd})`;
}
