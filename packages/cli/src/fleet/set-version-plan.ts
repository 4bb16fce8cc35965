import { desiredVersionSchema, parseValue, type DesiredVersion, type KeyLayout } from '@gantry/spec';
import { CliError } from '../cli-error';
import { ExitCode } from '../exit-codes';

/**
 * The pure half of `gantry set-version`: the desired-version value and the one etcd transaction
 * that writes it. The transaction is guarded so that what was checked (the stored config, and for
 * `--all` which hosts pin the component) is still true when it commits.
 */

/** One etcd transaction: if every guard holds, apply the puts and deletes together. */
export interface TxnPlan {
  /** Each key's mod revision must still be this; "0" means the key must not exist. */
  guards: Array<{ key: string; modRevision: string }>;
  puts: Array<{ key: string; value: string }>;
  deletes: string[];
}

export type SetVersionTarget = { all: true } | { all?: false; hosts: string[] };

export interface DesiredInput {
  version: string;
  stop?: boolean;
  setBy: string;
  setAt: Date;
}

/** The value to store, validated against the schema the agents read it with (so the tag is a Docker tag). */
export function desiredValue(input: DesiredInput): DesiredVersion {
  const raw: Record<string, unknown> = { version: input.version, setBy: input.setBy, setAt: input.setAt.toISOString() };
  if (input.stop) raw.state = 'stopped';
  const parsed = parseValue(desiredVersionSchema, raw, 'the desired version');
  if (!parsed.ok) {
    const bad = parsed.error.problems.map((p) =>
      p.path === 'version' ? `"${input.version}" is not a valid Docker tag: letters, digits, "_", "." and "-", not starting with "." or "-", at most 128 characters` : `${p.path}: ${p.message}`,
    );
    throw new CliError(bad.join('; '), ExitCode.invalidInput, { problems: parsed.error.problems });
  }
  // Write only what was given: the schema's default state stays a default for the reader.
  const value: DesiredVersion = { ...parsed.value };
  if (!input.stop) delete (value as Partial<DesiredVersion>).state;
  return value;
}

export interface PlanInput {
  keys: KeyLayout;
  project: string;
  component: string;
  /** The JSON text to store. */
  value: string;
  target: SetVersionTarget;
  /** Mod revision of the config key the component was checked against. */
  configModRevision: string;
  /** Every key under `keys.hostsPrefix(project)` with its mod revision (used by `--all`). */
  hostKeys: ReadonlyMap<string, { modRevision: string }>;
}

export function planSetVersion(input: PlanInput): TxnPlan {
  const { keys, project, component, value, target } = input;
  const guards = [{ key: keys.config(project), modRevision: input.configModRevision }];
  if (!target.all) {
    const hosts = [...new Set(target.hosts)];
    return { guards, puts: hosts.map((host) => ({ key: keys.hostDesired(project, host, component), value })), deletes: [] };
  }
  // --all: the fleet key, and no host-level pin of the component left, so every host follows it.
  // Every host seen is guarded: a pin written (or changed) meanwhile aborts the transaction.
  const pinned = new Map<string, string>();
  const hosts = new Set<string>();
  for (const [key, { modRevision }] of input.hostKeys) {
    const parsed = keys.parse(key);
    if (!parsed || parsed.project !== project || !('host' in parsed)) continue;
    hosts.add(parsed.host);
    if (parsed.kind === 'host-desired' && parsed.component === component) {
      pinned.set(parsed.host, key);
      guards.push({ key, modRevision });
    }
  }
  for (const host of [...hosts].sort()) {
    if (pinned.has(host)) continue;
    let key: string;
    try {
      key = keys.hostDesired(project, host, component);
    } catch {
      continue; // a stray key whose host segment is no host id: no agent reads a pin there
    }
    guards.push({ key, modRevision: '0' });
  }
  const deletes = [...pinned.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, key]) => key);
  return { guards, puts: [{ key: keys.fleetDesired(project, component), value }], deletes };
}
