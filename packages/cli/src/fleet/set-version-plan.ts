import { desiredVersionSchema, parseJson, parseValue, rolloutRequestSchema, type DesiredVersion, type KeyLayout } from '@gantry/spec';
import { CliError } from '../cli-error';
import { ExitCode } from '../exit-codes';

/**
 * The pure half of `gantry set-version`: the desired-version value and the etcd transactions that
 * write it. The first is guarded so that what was checked (the stored config, that no rollout of
 * the component is active, the pins it deletes) is still true when it commits. etcd refuses a
 * transaction of more than 128 compares or 128 operations (`--max-txn-ops`), so with `--all` over
 * a large fleet the pins the first cannot hold are deleted after it, in further transactions.
 */

/**
 * Compares, and operations, per transaction at most. etcd's limit (128 by default) applies to each
 * list apart (compares, success operations); this stays well below it.
 */
export const MAX_TXN_OPS = 100;

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
  /**
   * `--force` over an active rollout: the mod revision of its request as read, and the abort
   * control (JSON text) to write with the version change (none when the request is unreadable:
   * no id to name). Without it, the change is guarded on there being no rollout request at all.
   */
  override?: { requestModRevision: string; control?: string };
}

/** A host-level pin of the component, with the mod revision it was read at. */
export interface Pin {
  key: string;
  modRevision: string;
}

export interface SetVersionPlan {
  /**
   * The first transaction: guarded on the config, on the rollout request (absent, or unchanged
   * with `--force`) and on each pin it deletes; it writes the version (and the abort control) and
   * deletes the first pins. When it commits, the version change has happened.
   */
  head: TxnPlan;
  /** `--all`: the other pins, in transactions of at most MAX_TXN_OPS, each pin guarded on its own mod revision. */
  rest: TxnPlan[];
  /** `--all`: every pin to delete (those of `head` first), in key order. */
  pins: Pin[];
}

/**
 * The host-level pins of `component` among `hostKeys`, in key order: every `hosts/H/desired/<component>`
 * key, a stray one whose host segment is no valid host id included (no agent reads it; it goes too).
 */
export function pinsOf(keys: KeyLayout, project: string, component: string, hostKeys: ReadonlyMap<string, { modRevision: string }>): Pin[] {
  const prefix = keys.hostsPrefix(project);
  const suffix = `/desired/${component}`;
  const pins: Pin[] = [];
  for (const [key, { modRevision }] of hostKeys) {
    if (!key.startsWith(prefix) || !key.endsWith(suffix)) continue;
    const host = key.slice(prefix.length, key.length - suffix.length);
    if (host && !host.includes('/')) pins.push({ key, modRevision });
  }
  return pins.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Deletes of `pins`, at most `size` a transaction, each pin guarded on its own mod revision: a pin rewritten meanwhile is left alone. */
export function planPinDeletes(pins: readonly Pin[], size: number = MAX_TXN_OPS): TxnPlan[] {
  if (size < 1 || size > MAX_TXN_OPS) throw new Error(`a chunk holds 1 to ${MAX_TXN_OPS} pins: got ${size}`);
  const plans: TxnPlan[] = [];
  for (let i = 0; i < pins.length; i += size) {
    const chunk = pins.slice(i, i + size);
    plans.push({ guards: chunk.map((p) => ({ key: p.key, modRevision: p.modRevision })), puts: [], deletes: chunk.map((p) => p.key) });
  }
  return plans;
}

/** The compares and operations of a transaction, each of which etcd counts against its limit separately. */
export function txnSize(plan: TxnPlan): { compares: number; ops: number } {
  return { compares: plan.guards.length, ops: plan.puts.length + plan.deletes.length };
}

export function planSetVersion(input: PlanInput): SetVersionPlan {
  const { keys, project, component, value, target } = input;
  const guards = [
    { key: keys.config(project), modRevision: input.configModRevision },
    // No rollout started since the check (or, with --force, still the one being aborted).
    { key: keys.rolloutRequest(project, component), modRevision: input.override?.requestModRevision ?? '0' },
  ];
  const control = input.override?.control !== undefined ? [{ key: keys.rolloutControl(project, component), value: input.override.control }] : [];
  if (!target.all) {
    const hosts = [...new Set(target.hosts)];
    const puts = [...hosts.map((host) => ({ key: keys.hostDesired(project, host, component), value })), ...control];
    if (puts.length > MAX_TXN_OPS) {
      throw new CliError(`${hosts.length} hosts are too many for one transaction (at most ${MAX_TXN_OPS - control.length}): set the fleet version with --all, or roll out to them with \`gantry deploy --hosts\``, ExitCode.invalidInput, {
        hosts: hosts.length,
      });
    }
    return { head: { guards, puts, deletes: [] }, rest: [], pins: [] };
  }
  // --all: the fleet key, and no host-level pin of the component left, so every host follows it.
  // The fleet key comes first (with the first pins): a host whose pin goes follows the new version.
  // Hosts without a pin are not guarded (a thousand compares would not fit): a pin written between
  // the read and the commit is older than the fleet key's write, which the read after finds
  // (`set-version` deletes such pins in another round).
  const puts = [{ key: keys.fleetDesired(project, component), value }, ...control];
  const pins = pinsOf(keys, project, component, input.hostKeys);
  const first = pins.slice(0, MAX_TXN_OPS - Math.max(guards.length, puts.length));
  return {
    head: { guards: [...guards, ...first.map((p) => ({ key: p.key, modRevision: p.modRevision }))], puts, deletes: first.map((p) => p.key) },
    rest: planPinDeletes(pins.slice(first.length)),
    pins,
  };
}

/** Whether mod revision `a` is before `b` (revisions are decimal strings, beyond 2^53 in principle). */
export function revisionBefore(a: string, b: string): boolean {
  return BigInt(a) < BigInt(b);
}

/**
 * The pins still there after the version change committed at `revision`: those older than it are
 * still to delete (written before the change, or whose delete failed); newer ones were written
 * after it (a rollout, another operator) and are left alone.
 */
export function sortPins(pins: readonly Pin[], revision: string): { older: Pin[]; newer: Pin[] } {
  const older = pins.filter((p) => revisionBefore(p.modRevision, revision));
  const newer = pins.filter((p) => !revisionBefore(p.modRevision, revision));
  return { older, newer };
}

/** The component's active rollout, as its request key holds it (an invalid value is still an active rollout). */
export interface ActiveRollout {
  key: string;
  modRevision: string;
  /** The request's id; absent when the value is unreadable. */
  id?: string;
  toVersion?: string;
  createdBy?: string;
  createdAt?: string;
  /** Why the request could not be read, when it could not. */
  problem?: string;
}

export function activeRollout(stored: { key: string; value: string; modRevision: string }): ActiveRollout {
  const base = { key: stored.key, modRevision: stored.modRevision };
  const parsed = parseJson(rolloutRequestSchema, stored.value, stored.key);
  if (parsed.ok) {
    const { id, toVersion, createdBy, createdAt } = parsed.value;
    return { ...base, id, toVersion, createdBy, createdAt };
  }
  // Salvage what can be read of an invalid request, for the message.
  let raw: Record<string, unknown> = {};
  try {
    const value = JSON.parse(stored.value) as unknown;
    if (value && typeof value === 'object') raw = value as Record<string, unknown>;
  } catch {
    // not JSON at all
  }
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  return { ...base, id: str(raw.id), toVersion: str(raw.toVersion), createdBy: str(raw.createdBy), createdAt: str(raw.createdAt), problem: parsed.error.message };
}

/** `rollout r-… (to v2, started by ann@box at …)`. */
export function describeRollout(rollout: ActiveRollout): string {
  const started = [rollout.createdBy && `by ${rollout.createdBy}`, rollout.createdAt && `at ${rollout.createdAt}`].filter(Boolean).join(' ');
  const about = [rollout.toVersion && `to ${rollout.toVersion}`, started && `started ${started}`].filter(Boolean).join(', ');
  return `rollout ${rollout.id ?? '(unreadable request)'}${about ? ` (${about})` : ''}`;
}

/** The refusal of a version change while a rollout is active: names the rollout, how to override it, how to stop it. */
export function refusal(input: { keys: KeyLayout; project: string; component: string; rollout: ActiveRollout; state?: string }): CliError {
  const { keys, project, component, rollout } = input;
  const unreadable = rollout.problem ? `; its request at ${rollout.key} is invalid: ${rollout.problem}` : '';
  return new CliError(
    `a rollout of ${component} is active: ${describeRollout(rollout)}${input.state ? `, ${input.state}` : ''}${unreadable}. ` +
      `A version set now would fight it: stop it first with \`gantry rollout abort ${project} ${component}\`, or use --force to set the version anyway and abort the rollout (recorded in its history)`,
    ExitCode.invalidInput,
    {
      activeRollout: rollout.id ?? null,
      toVersion: rollout.toVersion ?? null,
      createdBy: rollout.createdBy ?? null,
      createdAt: rollout.createdAt ?? null,
      state: input.state ?? null,
      key: rollout.key,
      ...(rollout.problem ? { problem: rollout.problem } : {}),
      controlKey: keys.rolloutControl(project, component),
    },
  );
}

/** The abort control's `by` (at most 200 characters): who overrode the rollout, and with what. */
export function overrideBy(input: { operator: string; component: string; version: string; stop?: boolean; target: SetVersionTarget }): string {
  const MAX = 200;
  const what = `${input.component}=${input.version}${input.stop ? ' (stopped)' : ''}`;
  const text = (on: string) => `${input.operator} (set-version --force: ${what} on ${on})`;
  if (input.target.all) return clip(text('all hosts'), MAX);
  const hosts = [...new Set(input.target.hosts)];
  // As many host ids as fit, then "and N more".
  for (let shown = hosts.length; shown >= 1; shown--) {
    const rest = hosts.length - shown;
    const candidate = text(`${hosts.slice(0, shown).join(', ')}${rest ? ` and ${rest} more` : ''}`);
    if (candidate.length <= MAX) return candidate;
  }
  return clip(text(`${hosts.length} host${hosts.length === 1 ? '' : 's'}`), MAX);
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
