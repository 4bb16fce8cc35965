import fc from 'fast-check';
import type { KeyLayout } from '@gantry/spec';

/**
 * Generators of what other tooling might write under Gantry's prefix, for property tests and the
 * fuzz integration test: keys of every kind with valid and invalid names in every position,
 * unknown kinds, stray strings; values that are valid, almost valid, wrong JSON, binary or huge.
 */

/** Names that would break a key if trusted: empty, spaces, dots, too long, non-ASCII, control bytes. */
export const invalidName = fc.constantFrom('', 'bad name', '..', '.hidden', '-dash', 'a'.repeat(64), 'ünïcode', 'tab\tname', 'nul\u0000byte', '*', '%2F', 'web ');

/** A name segment: mostly one of the given valid names, sometimes an invalid one. */
export function nameSegment(valid: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...valid) }, { weight: 2, arbitrary: invalidName }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) });
}

export interface KeySpace {
  layout: KeyLayout;
  projects: readonly string[];
  hosts: readonly string[];
  components: readonly string[];
}

/** Keys of every kind of the layout (and some of no kind), each name drawn valid or invalid. */
export function layoutKey(space: KeySpace): fc.Arbitrary<string> {
  const base = `${space.layout.root}projects/`;
  const project = nameSegment(space.projects);
  const host = nameSegment(space.hosts);
  const component = nameSegment(space.components);
  const id = fc.oneof(fc.constantFrom('r-1', 'r-2', 'x'), invalidName);
  const tail = fc.oneof(
    fc.constant('config'),
    fc.constant('coordinator'),
    fc.constant('lock'),
    component.map((c) => `locks/${c}`),
    component.map((c) => `maintenance/${c}`),
    component.map((c) => `desired/${c}`),
    host.map((h) => `hosts/${h}/registration`),
    host.map((h) => `hosts/${h}/agent`),
    fc.tuple(host, component).map(([h, c]) => `hosts/${h}/desired/${c}`),
    fc.tuple(host, component).map(([h, c]) => `hosts/${h}/status/${c}`),
    fc.tuple(host, component).map(([h, c]) => `hosts/${h}/prepull/${c}`),
    fc.tuple(component, fc.constantFrom('request', 'control', 'state')).map(([c, k]) => `rollouts/${c}/${k}`),
    fc.tuple(component, id).map(([c, i]) => `rollouts/${c}/history/${i}`),
    // Unknown kinds and shapes: extra segments, trailing slashes, nothing at all.
    fc.array(fc.string({ maxLength: 8 }), { maxLength: 6 }).map((parts) => parts.join('/')),
    fc.tuple(host, fc.string({ maxLength: 10 })).map(([h, x]) => `hosts/${h}/${x}`),
    component.map((c) => `rollouts/${c}/request/extra`),
  );
  return fc.oneof({ weight: 8, arbitrary: fc.tuple(project, tail).map(([p, t]) => `${base}${p}/${t}`) }, { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((s) => `${space.layout.root}${s}`) });
}

const iso = fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString());

/** Values close to valid ones of each kind, with fields of the wrong type or missing. */
const nearlyValid = fc.oneof(
  fc.record({ version: fc.oneof(fc.constantFrom('v1', 'v2', 'v 2', ''), fc.integer()), state: fc.constantFrom('running', 'stopped', 'exploded') }, { requiredKeys: [] }),
  fc.record({ hostId: fc.constantFrom('h1', 'h2', 'bad name'), address: fc.constantFrom('127.0.0.1', ''), agentVersion: fc.constant('0.1.0'), startedAt: fc.oneof(iso, fc.string()), labels: fc.dictionary(fc.string(), fc.string()) }, { requiredKeys: [] }),
  fc.record({ phase: fc.constantFrom('running', 'failed', 'exploded'), version: fc.string(), containers: fc.anything(), updatedAt: fc.oneof(iso, fc.integer()) }, { requiredKeys: [] }),
  fc.record({ id: fc.constantFrom('r-1', 'r 1'), component: fc.constantFrom('web', 'api', 'bad name'), toVersion: fc.constantFrom('v2', ''), policy: fc.anything(), createdBy: fc.string(), createdAt: iso }, { requiredKeys: [] }),
  fc.record({ rollout: fc.constantFrom('r-1', 'r-2'), action: fc.constantFrom('pause', 'resume', 'abort', 'rollback', 'explode'), by: fc.string(), at: fc.oneof(iso, fc.string()) }, { requiredKeys: [] }),
  fc.record({ rollout: fc.constantFrom('r-1', 'r 1', ''), version: fc.oneof(fc.constantFrom('v2', 'v 2', ''), fc.integer()), setAt: fc.oneof(iso, fc.string()) }, { requiredKeys: [] }),
  fc.record({ rollout: fc.constantFrom('r-1'), state: fc.constantFrom('running', 'paused', 'preflight', 'weird'), hosts: fc.array(fc.anything(), { maxLength: 3 }), updatedAt: iso }, { requiredKeys: [] }),
  fc.record({ message: fc.constantFrom('back soon', '', ' '), hosts: fc.constantFrom({ all: true }, { ids: ['h1'] }, { ids: [] }, 'all'), holdSeconds: fc.constantFrom(5, 0, 1000), since: fc.oneof(iso, fc.string()), by: fc.string() }, { requiredKeys: [] }),
  fc.record({ components: fc.array(fc.record({ name: fc.constantFrom('web', 'bad name'), repo: fc.constantFrom('app', '') }, { requiredKeys: [] }), { maxLength: 3 }) }, { requiredKeys: [] }),
);

/** Any text another tool could store: JSON of any shape, near-valid records, not-JSON, binary. */
export const storedText: fc.Arbitrary<string> = fc.oneof(
  nearlyValid.map((v) => JSON.stringify(v)),
  fc.json({ maxDepth: 3 }),
  fc.string({ maxLength: 60 }),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString('utf8')),
  fc.constantFrom('', 'null', '[]', '{}', '"v2"', '{"version":', '\u0000\u0001\u0002', '{"__proto__": {"polluted": true}}', '{"constructor": {"prototype": {}}}'),
);

/** A value near etcd's default request limit (1.5 MiB): a long JSON string, or an array of bad items. */
export function hugeText(bytes = 1_400_000): string {
  return JSON.stringify({ components: Array.from({ length: Math.floor(bytes / 40) }, (_, i) => ({ name: `c${i}`, repo: '' })) });
}
