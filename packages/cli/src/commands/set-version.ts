import { desiredVersionSchema, identifier, parseJson, rolloutStateSchema, type DesiredVersion, type RolloutControl } from '@gantry/spec';
import type { CommandModule } from 'yargs';
import { CliError } from '../cli-error';
import { ExitCode } from '../exit-codes';
import { lockGuards, lockHolder, lockWaitOption } from '../fleet/deploy-lock';
import { operator } from '../fleet/operator';
import { layoutFor, valuesOf, withFleet, type ChunkHooks, type FleetClient, type StoredValue } from '../fleet/fleet-client';
import { withFleetOptions, type FleetArgs } from '../fleet/fleet-options';
import { hostsFromEntries } from '../fleet/hosts-rows';
import {
  activeRollout,
  describeRollout,
  desiredValue,
  MAX_TXN_OPS,
  overrideBy,
  pinsOf,
  planPinDeletes,
  planSetVersion,
  refusal,
  sortPins,
  type ActiveRollout,
  type Pin,
  type SetVersionTarget,
} from '../fleet/set-version-plan';
import { controlValue } from '../rollout/request-plan';
import { runVerb } from '../run-verb';

type Args = FleetArgs & { component: string; tag: string; host?: string[]; all?: boolean; stop: boolean; force: boolean; 'lock-wait': number };

/** Attempts when etcd changes between the reads and the guarded transaction. */
const ATTEMPTS = 5;

/** Rounds of deleting the pins left after the version change, and reading what is left. */
const PIN_ROUNDS = 3;

/** Listed one by one in human output up to this many; beyond, a count (`--json` lists them all). */
const LIST_AT_MOST = 20;

/** Who is setting it: user@hostname. */
function checkIdentifier(what: string, value: string): void {
  const ok = identifier.safeParse(value);
  if (!ok.success) throw new CliError(`invalid ${what} "${value}": ${ok.error.issues[0].message}`, ExitCode.invalidInput);
}

export interface SetVersionInput {
  component: string;
  /** The validated value to store (see `desiredValue`). */
  value: DesiredVersion;
  target: SetVersionTarget;
  /** Write for hosts that are not registered, and over an active rollout of the component (aborting it). */
  force: boolean;
  /** Who: the abort control's `by` starts with it. */
  operator: string;
  now?: () => Date;
  /** Whose deploy lock does not block this (see lockGuards); absent: locks are not checked (tests of the planning). */
  lock?: { holder: string; waitS?: number; signal?: AbortSignal };
}

/** A host pin still there when set-version ends, and why. */
export interface RemainingPin {
  host: string;
  key: string;
  modRevision: string;
  /**
   * `newer`: written after the version change (a rollout, another operator), left alone;
   * `unchanged`: older than the change, yet its delete kept failing;
   * `unconfirmed`: etcd failed before its delete (or the check after it) went through.
   */
  reason: 'newer' | 'unchanged' | 'unconfirmed';
  /** What the pin says now, when it was read: version, setBy, rollout. */
  version?: string;
  setBy?: string;
  rollout?: string;
}

export interface PinsOutcome {
  /** Pins to delete: those seen before the change, and any older than it found after. */
  total: number;
  /** The pins this run deleted. */
  deleted: string[];
  remaining: RemainingPin[];
  /** Transactions committed for the pins after the first (the version change). */
  chunks: number;
  /** The etcd failure that stopped it, if one did. */
  error?: CliError;
}

export interface SetVersionOutcome {
  /** The desired-version keys written. */
  wrote: string[];
  /** Revision of the version change (the first transaction). */
  revision: string;
  /** `--force` over an active rollout: the rollout and the abort control written with the change. */
  overrode?: { rollout: ActiveRollout; control?: RolloutControl; controlKey: string };
  /** `--all`: the host pins of the component. */
  pins: PinsOutcome;
}

export interface SetVersionHooks extends Pick<ChunkHooks, 'beforeChunk'> {
  /** Pins cleared so far, of how many: after the version change and after each further transaction. */
  onProgress?: (cleared: number, total: number) => void;
}

/**
 * `gantry set-version` against etcd: refuses while a rollout of the component is active (unless
 * `force`), writes the version (and with `force` an abort of the rollout) in one guarded
 * transaction with the first pins' deletes, then deletes the other pins in further guarded
 * transactions. Resolves with what was done, remaining pins included; throws only when nothing
 * was written.
 */
export async function applySetVersion(fleet: FleetClient, input: SetVersionInput, hooks: SetVersionHooks = {}): Promise<SetVersionOutcome> {
  const { keys, project } = fleet;
  const { component, target, force } = input;
  const now = input.now ?? (() => new Date());
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    // Refused while someone else holds the deploy lock; the write is guarded on the locks as read.
    const locks = input.lock ? await lockGuards(fleet, component, input.lock) : [];
    const stored = await fleet.readConfigWith(component);
    const text = JSON.stringify({ ...input.value, configHash: stored.configHash } satisfies DesiredVersion);
    const requestKey = keys.rolloutRequest(project, component);
    const request = await fleet.get(requestKey);
    const rollout = request ? activeRollout(request) : undefined;
    if (rollout && !force) {
      const state = await fleet.read(keys.rolloutState(project, component), rolloutStateSchema);
      const stateText = state.found && state.ok && state.value.rollout === rollout.id ? state.value.state : 'pending';
      throw refusal({ keys, project, component, rollout, state: stateText });
    }
    const needHosts = target.all || !force;
    const snapshot = needHosts ? await fleet.readHosts() : undefined;
    if (!target.all && !force && snapshot) {
      const list = hostsFromEntries(keys, project, valuesOf(snapshot.entries));
      const registered = new Set([...list.hosts.map((h) => h.hostId), ...list.invalid.map((h) => h.host)]);
      const unknown = target.hosts.filter((h) => !registered.has(h));
      if (unknown.length) {
        throw new CliError(
          `unknown host${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')}: no registration under ${keys.hostsPrefix(project)} (e.g. ${keys.registration(project, unknown[0])}); use --force to write anyway`,
          ExitCode.invalidInput,
          { hosts: unknown },
        );
      }
    }
    // With --force over a rollout: abort it in the same transaction, saying who overrode it with what.
    const control =
      rollout?.id !== undefined
        ? controlValue({
            rollout: rollout.id,
            action: 'abort',
            by: overrideBy({ operator: input.operator, component, version: input.value.version, stop: input.value.state === 'stopped', target }),
            at: now(),
          })
        : undefined;
    const plan = planSetVersion({
      keys,
      project,
      component,
      value: text,
      target,
      configModRevision: stored.modRevision,
      hostKeys: snapshot?.entries ?? new Map(),
      override: rollout ? { requestModRevision: rollout.modRevision, control: control ? JSON.stringify(control) : undefined } : undefined,
    });
    const result = await fleet.commit({ ...plan.head, guards: [...plan.head.guards, ...locks] });
    if (!result.succeeded) continue; // the config, the rollout request, a pin or a lock changed meanwhile: check again
    const controlKey = keys.rolloutControl(project, component);
    const wrote = plan.head.puts.map((p) => p.key).filter((key) => key !== controlKey);
    hooks.onProgress?.(plan.head.deletes.length, plan.pins.length);
    const pins = target.all
      ? await clearPins(fleet, component, result.revision, plan.pins, plan.head.deletes, plan.rest.flatMap((chunk) => chunk.deletes), hooks)
      : { total: 0, deleted: [], remaining: [], chunks: 0 };
    return { wrote, revision: result.revision, overrode: rollout ? { rollout, control, controlKey } : undefined, pins };
  }
  throw new CliError(`etcd kept changing under ${keys.project(project)} (the config, a rollout request or a host pin) during ${ATTEMPTS} attempts; nothing was written, try again`, ExitCode.failed);
}

/**
 * Deletes the pins the version change (at `since`) could not hold, each guarded on its own mod
 * revision, then reads what is left: a pin older than the change (written between the read and
 * the change, or whose chunk failed on another pin's guard) is deleted in another round; a newer
 * one was written after the change and is left alone.
 */
async function clearPins(fleet: FleetClient, component: string, since: string, planned: Pin[], deletedFirst: string[], pendingKeys: string[], hooks: SetVersionHooks): Promise<PinsOutcome> {
  const { keys, project } = fleet;
  const byKey = new Map(planned.map((p) => [p.key, p]));
  const all = new Set(byKey.keys());
  const deleted = [...deletedFirst];
  let pending = pendingKeys.map((key) => byKey.get(key)!);
  let chunks = 0;
  const hostOf = (key: string) => keys.hostSegment(key) ?? key;
  const unconfirmed = (error: CliError): PinsOutcome => {
    const done = new Set(deleted);
    const remaining = pending.filter((p) => !done.has(p.key)).map((p): RemainingPin => ({ host: hostOf(p.key), key: p.key, modRevision: p.modRevision, reason: 'unconfirmed' }));
    return { total: all.size, deleted, remaining, chunks, error };
  };
  for (let round = 1; ; round++) {
    if (pending.length) {
      const { error } = await fleet.commitChunks(planPinDeletes(pending), {
        beforeChunk: hooks.beforeChunk,
        afterChunk: (_, plan, result) => {
          chunks++;
          if (!result.succeeded) return;
          deleted.push(...plan.deletes);
          hooks.onProgress?.(deleted.length, all.size);
        },
      });
      if (error) return unconfirmed(error);
    }
    let entries: Map<string, StoredValue>;
    try {
      entries = (await fleet.readHosts()).entries;
    } catch (err) {
      if (err instanceof CliError) return unconfirmed(err);
      throw err;
    }
    const { older, newer } = sortPins(pinsOf(keys, project, component, entries), since);
    for (const p of older) all.add(p.key);
    if (!older.length || round >= PIN_ROUNDS) {
      const describe = (p: Pin, reason: RemainingPin['reason']): RemainingPin => {
        const parsed = parseJson(desiredVersionSchema, entries.get(p.key)?.value ?? '', p.key);
        const about = parsed.ok ? { version: parsed.value.version, setBy: parsed.value.setBy, rollout: parsed.value.rollout } : {};
        return { host: hostOf(p.key), key: p.key, modRevision: p.modRevision, reason, ...about };
      };
      return { total: all.size, deleted, remaining: [...older.map((p) => describe(p, 'unchanged')), ...newer.map((p) => describe(p, 'newer'))], chunks };
    }
    pending = older;
  }
}

function remainingLine(pin: RemainingPin, since: string): string {
  const about = [pin.version && `version ${pin.version}`, pin.rollout && `rollout ${pin.rollout}`, pin.setBy && `set by ${pin.setBy}`].filter(Boolean).join(', ');
  const why = {
    newer: `written at revision ${pin.modRevision}, after the change at ${since}${about ? ` (${about})` : ''}: left alone`,
    unchanged: `its delete kept failing (revision ${pin.modRevision})`,
    unconfirmed: 'not deleted, or not confirmed: etcd failed first',
  }[pin.reason];
  return `  ${pin.host}: ${pin.key} ${why}`;
}

/** The error for a version change whose pins were not all cleared: what was done, exactly which pins remain, what to do. */
export function pinsLeftError(input: { component: string; version: string; command: string; outcome: SetVersionOutcome }): CliError {
  const { outcome } = input;
  const { pins } = outcome;
  const listed = pins.remaining.slice(0, LIST_AT_MOST).map((p) => remainingLine(p, outcome.revision));
  if (pins.remaining.length > listed.length) listed.push(`  and ${pins.remaining.length - listed.length} more (--json lists them all)`);
  const cause = pins.error ? `etcd failed while clearing them: ${pins.error.message}\n` : '';
  const message =
    `set ${input.component} ${input.version} at ${outcome.wrote.join(', ')} (revision ${outcome.revision}) and cleared ${pins.deleted.length} of ${pins.total} host pins, ` +
    `but ${pins.remaining.length} pin${pins.remaining.length === 1 ? '' : 's'} of ${input.component} remain, so ${pins.remaining.length === 1 ? 'that host does' : 'those hosts do'} not follow the fleet version:\n` +
    `${listed.join('\n')}\n${cause}rerun \`${input.command}\` to clear them`;
  return new CliError(message, pins.error ? pins.error.exitCode : ExitCode.failed, {
    partial: true,
    component: input.component,
    version: input.version,
    wrote: outcome.wrote,
    revision: outcome.revision,
    deleted: pins.deleted,
    total: pins.total,
    remaining: pins.remaining,
    ...(outcome.overrode ? { overrode: overrodeJson(outcome.overrode) } : {}),
  });
}

function overrodeJson(overrode: NonNullable<SetVersionOutcome['overrode']>): Record<string, unknown> {
  const { rollout, control, controlKey } = overrode;
  return { rollout: rollout.id ?? null, toVersion: rollout.toVersion ?? null, createdBy: rollout.createdBy ?? null, createdAt: rollout.createdAt ?? null, key: rollout.key, control: control ?? null, controlKey };
}

export const setVersionCommand: CommandModule<object, Args> = {
  command: 'set-version <component> <tag>',
  describe: 'set the version a component should run, on named hosts (--host) or on the whole fleet (--all); refused while a rollout of it is active',
  builder: (y) =>
    withFleetOptions(y)
      .positional('component', { type: 'string', demandOption: true, describe: "a component of the project's stored config" })
      .positional('tag', { type: 'string', demandOption: true, describe: 'the image tag to run' })
      .option('host', { type: 'string', array: true, describe: 'pin this host to the version (repeatable)' })
      .option('all', { type: 'boolean', describe: 'set the fleet version, and remove every host pin of the component so all hosts follow it' })
      .option('stop', { type: 'boolean', default: false, describe: 'desired state "stopped": drain and remove the component instead of running it' })
      .option('force', {
        type: 'boolean',
        default: false,
        describe: 'write anyway: for hosts that are not registered (yet), and while a rollout of the component is active (it is aborted, recorded in its history)',
      })
      .option('lock-wait', lockWaitOption)
      .conflicts('host', 'all') as never,
  handler: (args) =>
    runVerb(args.json, async (reporter, signal) => {
      const keys = layoutFor(args);
      const project = args.project;
      const component = String(args.component);
      checkIdentifier('component', component);
      const hosts = [...new Set((args.host ?? []).map(String))];
      if (!args.all && !hosts.length) throw new CliError('name the hosts with --host ID (repeatable), or use --all for the whole fleet', ExitCode.invalidInput);
      for (const host of hosts) checkIdentifier('host id', host);
      const target: SetVersionTarget = args.all ? { all: true } : { hosts };
      const value = desiredValue({ version: String(args.tag), stop: args.stop, setBy: operator(), setAt: new Date() });
      const hostOf = (key: string) => keys.hostSegment(key) ?? key;
      const progress = args.json ? undefined : progressLine();

      await withFleet(args, async (fleet) => {
        let outcome: SetVersionOutcome;
        try {
          outcome = await applySetVersion(fleet, { component, value, target, force: args.force, operator: operator(), lock: { holder: lockHolder(), waitS: args['lock-wait'], signal } }, { onProgress: progress?.update });
        } finally {
          progress?.end();
        }
        const command = ['gantry set-version', component, value.version, ...(target.all ? ['--all'] : hosts.map((h) => `--host ${h}`)), ...(args.stop ? ['--stop'] : [])].join(' ');
        if (outcome.pins.remaining.length) throw pinsLeftError({ component, version: value.version, command, outcome });
        const what = `${component} ${value.version}${args.stop ? ' (stopped)' : ''}`;
        const { pins, overrode } = outcome;
        const overrideLines = overrode
          ? overrode.control
            ? [`aborted  ${describeRollout(overrode.rollout)}: --force wrote an abort at ${overrode.controlKey}; the coordinator aborts it, and its history will say "aborted by ${overrode.control.by}"`]
            : [`warning: the rollout request at ${overrode.rollout.key} is unreadable (${overrode.rollout.problem}); no abort was written: check it and delete it if it is garbage`]
          : [];
        const pinLines =
          pins.deleted.length <= LIST_AT_MOST
            ? pins.deleted.map((key) => `unpinned ${hostOf(key)}: deleted ${key} (it follows the fleet now)`)
            : [`unpinned ${pins.deleted.length} hosts: deleted their pins of ${component} (they follow the fleet now), in ${1 + pins.chunks} transactions of at most ${MAX_TXN_OPS} operations`];
        reporter.result(
          {
            ok: true,
            project,
            component,
            version: value.version,
            state: value.state ?? 'running',
            value,
            wrote: outcome.wrote,
            deleted: pins.deleted,
            revision: outcome.revision,
            transactions: 1 + pins.chunks,
            ...(overrode ? { overrode: overrodeJson(overrode) } : {}),
          },
          [...outcome.wrote.map((key) => `set      ${what} at ${key}`), ...overrideLines, ...pinLines, `revision ${outcome.revision}`],
        );
      });
    }),
};

/** "cleared 400/1000 host pins" on stderr while many pins are deleted: one line rewritten on a terminal, else a line per step. */
function progressLine(): { update: (cleared: number, total: number) => void; end: () => void } {
  const tty = Boolean(process.stderr.isTTY);
  let shown = false;
  return {
    update: (cleared, total) => {
      if (total <= MAX_TXN_OPS) return; // one transaction: nothing to follow
      const line = `cleared ${cleared}/${total} host pins`;
      process.stderr.write(tty ? `\r${line}` : `${line}\n`);
      shown = true;
    },
    end: () => {
      if (shown && tty) process.stderr.write('\n');
    },
  };
}
