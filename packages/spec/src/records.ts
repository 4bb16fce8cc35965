import type { z } from 'zod';
import { projectConfigSchema } from './config';
import { agentStatusSchema, componentStatusSchema, desiredVersionSchema, hostRegistrationSchema } from './etcd-values';
import type { KeyKind, KeyLayout, KeyOf, ParsedKey } from './keys';
import { coordinatorRecordSchema, rolloutControlSchema, rolloutHistoryEntrySchema, rolloutRequestSchema, rolloutStateSchema } from './rollout';
import { lockRecordSchema } from './lock';
import { maintenanceRecordSchema } from './maintenance';
import { prepullRequestSchema } from './prepull';
import { parseJson, type ValidationProblem } from './validation';

/** The schema of each key kind's value: the one table every reader of etcd goes through. */
export const recordSchemas = {
  config: projectConfigSchema,
  'fleet-desired': desiredVersionSchema,
  'host-desired': desiredVersionSchema,
  registration: hostRegistrationSchema,
  status: componentStatusSchema,
  agent: agentStatusSchema,
  prepull: prepullRequestSchema,
  'rollout-request': rolloutRequestSchema,
  'rollout-control': rolloutControlSchema,
  'rollout-state': rolloutStateSchema,
  'rollout-history': rolloutHistoryEntrySchema,
  coordinator: coordinatorRecordSchema,
  lock: lockRecordSchema,
  maintenance: maintenanceRecordSchema,
} as const satisfies Record<KeyKind, z.ZodType>;

export type RecordOf<K extends KeyKind> = z.infer<(typeof recordSchemas)[K]>;

/** A valid key with a valid value. */
export type ValidRecord = { [K in KeyKind]: { key: string; ref: KeyOf<K>; value: RecordOf<K>; problem?: undefined } }[KeyKind];

/**
 * A key that cannot be acted on: its value fails its schema (`ref` says what the key is), or the
 * key itself names nothing valid (`ref` undefined; `project`/`host` where those segments are valid).
 */
export interface InvalidRecord {
  key: string;
  ref?: ParsedKey;
  project?: string;
  host?: string;
  value?: undefined;
  /** One line for the operator: what is wrong (the key is `key`). */
  problem: string;
}

/** What one key under the layout holds, parsed once: a record, or the problem that keeps it from being one. */
export type FleetRecord = ValidRecord | InvalidRecord;

/** How a report names each kind's value. */
const KIND_LABEL: Record<KeyKind, string> = {
  config: 'config',
  'fleet-desired': 'desired version',
  'host-desired': 'desired version',
  registration: 'registration',
  status: 'status',
  agent: 'agent status',
  prepull: 'prepull request',
  'rollout-request': 'rollout request',
  'rollout-control': 'rollout control',
  'rollout-state': 'rollout state',
  'rollout-history': 'rollout history',
  coordinator: 'coordinator record',
  lock: 'lock',
  maintenance: 'maintenance',
};

/** At most this many schema problems are listed in one report, and each is cut to this length. */
const MAX_LISTED_PROBLEMS = 8;
const MAX_PROBLEM_CHARS = 300;

const cut = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)}… (${text.length - max} more characters)` : text);

/** Schema problems as one bounded line: a value with ten thousand bad items still gives a short report. */
export function describeProblems(problems: readonly ValidationProblem[]): string {
  const listed = problems.slice(0, MAX_LISTED_PROBLEMS).map((p) => cut(p.path === '(root)' ? p.message : `${p.path}: ${p.message}`, MAX_PROBLEM_CHARS));
  const more = problems.length - listed.length;
  return listed.join('; ') + (more > 0 ? `; and ${more} more` : '');
}

/** What a value must also agree with in its key: the names inside it are the key's names. */
function crossCheck(ref: ParsedKey, value: unknown): string | undefined {
  if (ref.kind === 'registration') {
    const hostId = (value as RecordOf<'registration'>).hostId;
    return hostId === ref.host ? undefined : `hostId: "${hostId}" does not match the key's host "${ref.host}"`;
  }
  if (ref.kind === 'rollout-request') {
    const component = (value as RecordOf<'rollout-request'>).component;
    return component === ref.component ? undefined : `component: "${component}" does not match the key's component "${ref.component}"`;
  }
  if (ref.kind === 'rollout-history') {
    const { request } = value as RecordOf<'rollout-history'>;
    if (request.id !== ref.id) return `request.id: "${request.id}" does not match the key's rollout id "${ref.id}"`;
    if (request.component !== ref.component) return `request.component: "${request.component}" does not match the key's component "${ref.component}"`;
  }
  return undefined;
}

/**
 * The one parser of everything under the layout: classifies the key, then validates the value
 * against its kind's schema and against the key's own names. Total: any key, any text, never a
 * throw. Returns undefined only for keys outside `<root>projects/` (not ours to judge).
 */
export function parseRecord(layout: KeyLayout, key: string, text: string): FleetRecord | undefined {
  const c = layout.classify(key);
  if (c.type === 'outside') return undefined;
  if (c.type === 'invalid') return { key, ...(c.project !== undefined && { project: c.project }), ...(c.host !== undefined && { host: c.host }), problem: `ignored key: ${c.reason}` };
  const ref = c.key;
  const parsed = parseJson(recordSchemas[ref.kind] as z.ZodType, text, key);
  const where = { key, ref, project: ref.project, ...('host' in ref && { host: ref.host }) };
  const invalid = `invalid ${KIND_LABEL[ref.kind]} value`;
  if (!parsed.ok) return { ...where, problem: `${invalid}: ${describeProblems(parsed.error.problems)}` };
  const mismatch = crossCheck(ref, parsed.value);
  if (mismatch) return { ...where, problem: `${invalid}: ${mismatch}` };
  return { key, ref, value: parsed.value } as ValidRecord;
}

/** The value of a record when it is valid and of `kind`, else undefined. */
export function valueOf<K extends KeyKind>(record: FleetRecord | undefined, kind: K): RecordOf<K> | undefined {
  return record && record.problem === undefined && record.ref.kind === kind ? (record.value as RecordOf<K>) : undefined;
}

/** A valid record of one kind, with its key's names. */
export interface RecordEntry<K extends KeyKind> {
  key: string;
  ref: KeyOf<K>;
  value: RecordOf<K>;
}

/** Parsed records by key: a process's mirror of etcd, or a one-shot read of it. */
export interface RecordSource {
  get(key: string): FleetRecord | undefined;
  /** Every record whose key starts with `prefix` (all, without one). */
  entries(prefix?: string): Iterable<[string, FleetRecord]>;
}

/** Every valid record of `kind` under `prefix`. */
export function* recordsOf<K extends KeyKind>(source: RecordSource, kind: K, prefix = ''): IterableIterator<RecordEntry<K>> {
  for (const [key, record] of source.entries(prefix)) {
    if (record.problem === undefined && record.ref.kind === kind) yield { key, ref: record.ref as KeyOf<K>, value: record.value as RecordOf<K> };
  }
}

/** Every key under `prefix` that cannot be acted on, with its problem. */
export function* invalidRecords(source: RecordSource, prefix = ''): IterableIterator<InvalidRecord> {
  for (const [, record] of source.entries(prefix)) if (record.problem !== undefined) yield record;
}

/** Raw key → text pairs (a one-shot read, a test's map) parsed into a record source. */
export function recordMap(layout: KeyLayout, raw: Iterable<[string, string]>): RecordSource {
  const map = new Map<string, FleetRecord>();
  for (const [key, text] of raw) {
    const record = parseRecord(layout, key, text);
    if (record) map.set(key, record);
  }
  return {
    get: (key) => map.get(key),
    *entries(prefix = '') {
      for (const entry of map) if (entry[0].startsWith(prefix)) yield entry;
    },
  };
}
