import type { AgentStatus, ComponentStatus, Problem } from '@gantry/spec';

/**
 * The most a status record (ComponentStatus, AgentStatus) may take serialized, in bytes: far under
 * etcd's request limit (--max-request-bytes, 1.5 MiB by default), because status is written often
 * and read by every `gantry status --watch`. Real records are a few hundred bytes; only error texts
 * that carry container logs or validation reports of a huge value come near.
 */
export const STATUS_MAX_BYTES = 64 * 1024;

/** Size of `value` as written: its JSON in UTF-8. */
export const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value), 'utf8');

/** Bytes one code point takes inside a JSON string (escapes included), as JSON.stringify writes it. */
function escapedBytes(cp: number): number {
  if (cp === 0x22 || cp === 0x5c) return 2; // \" \\
  if (cp < 0x20) return cp === 0x08 || cp === 0x09 || cp === 0x0a || cp === 0x0c || cp === 0x0d ? 2 : 6;
  if (cp < 0x80) return 1;
  if (cp < 0x800) return 2;
  if (cp >= 0xd800 && cp <= 0xdfff) return 6; // a lone surrogate: \udxxx
  if (cp < 0x10000) return 3;
  return 4;
}

/** The longest head of `text` that takes at most `budget` bytes inside a JSON string; never splits a surrogate pair. */
function headWithin(text: string, budget: number): string {
  let used = 0;
  let i = 0;
  while (i < text.length) {
    const cp = text.codePointAt(i)!;
    const size = escapedBytes(cp);
    if (used + size > budget) break;
    used += size;
    i += cp > 0xffff ? 2 : 1;
  }
  return text.slice(0, i);
}

/** The longest tail of `text` that takes at most `budget` bytes inside a JSON string; never splits a surrogate pair. */
function tailWithin(text: string, budget: number): string {
  let used = 0;
  let i = text.length;
  while (i > 0) {
    let start = i - 1;
    const low = text.charCodeAt(start);
    if (low >= 0xdc00 && low <= 0xdfff && start > 0) {
      const high = text.charCodeAt(start - 1);
      if (high >= 0xd800 && high <= 0xdbff) start--;
    }
    const size = escapedBytes(text.codePointAt(start)!);
    if (used + size > budget) break;
    used += size;
    i = start;
  }
  return text.slice(i);
}

/**
 * `text` cut so that it takes at most `maxBytes` inside a JSON string: its head (three quarters of
 * the room) and its tail (the rest: the last log lines) around a visible marker giving the
 * original size, `… (truncated, N bytes) …`. A text that fits is returned as it is.
 */
export function truncateText(text: string, maxBytes: number): string {
  // Each UTF-16 unit takes 1 to 6 bytes in a JSON string: measure only when that does not decide it.
  if (text.length * 6 <= maxBytes || (text.length <= maxBytes && jsonBytes(text) - 2 <= maxBytes)) return text;
  const marker = ` … (truncated, ${Buffer.byteLength(text, 'utf8')} bytes) … `;
  const room = maxBytes - Buffer.byteLength(marker, 'utf8');
  if (room <= 0) return headWithin(marker.trim(), maxBytes);
  const head = headWithin(text, Math.floor((room * 3) / 4));
  const tail = tailWithin(text.slice(head.length), room - (jsonBytes(head) - 2));
  return `${head}${marker}${tail}`;
}

/** How hard a record is cut: text of errors, text of check details, entries of lists. */
interface Caps {
  text: number;
  detail: number;
  items: number;
}

/** From gentle to harsh; each step is tried until the record fits. */
const LADDER: Caps[] = [
  { text: 16_384, detail: 2_048, items: 32 },
  { text: 8_192, detail: 1_024, items: 16 },
  { text: 4_096, detail: 512, items: 8 },
  { text: 2_048, detail: 256, items: 4 },
  { text: 1_024, detail: 128, items: 2 },
  { text: 256, detail: 64, items: 1 },
];

/** Names, ids, versions: short in any sane record; cut only in the last step. */
const NAME_BYTES = 1_024;

function fitProblem(p: Problem, caps: Caps, names = Infinity): Problem {
  return { ...p, ...(p.key !== undefined && { key: truncateText(p.key, Math.min(names, NAME_BYTES * 4)) }), reason: truncateText(p.reason, caps.text) };
}

function capComponent(s: ComponentStatus, caps: Caps, last: boolean): ComponentStatus {
  const name = (t: string | undefined) => (t === undefined || !last ? t : truncateText(t, NAME_BYTES));
  const next: ComponentStatus = { ...s };
  if (s.lastError) next.lastError = fitProblem(s.lastError, caps, last ? NAME_BYTES : Infinity);
  if (s.health) {
    const results = s.health.lastResults;
    // Keep the failing results first, in their order, then as many passing ones as there is room.
    const keep = new Set([...results.filter((r) => !r.ok), ...results.filter((r) => r.ok)].slice(0, caps.items));
    const failing = s.health.failing.slice(0, caps.items).map((f) => truncateText(f, NAME_BYTES / 4));
    if (s.health.failing.length > caps.items) failing.push(`… (${s.health.failing.length - caps.items} more, truncated)`);
    next.health = {
      ...s.health,
      failing,
      lastResults: results.filter((r) => keep.has(r)).map((r) => ({ ...r, check: truncateText(r.check, NAME_BYTES / 4), detail: truncateText(r.detail, caps.detail) })),
    };
  }
  if (last) {
    next.containers = s.containers.slice(0, Math.max(caps.items, 4)).map((c) => ({ ...c, id: name(c.id)!, version: name(c.version)!, state: name(c.state)! }));
    for (const field of ['version', 'targetVersion', 'image', 'imageId'] as const) if (s[field] !== undefined) next[field] = name(s[field]);
    if (s.drain) next.drain = { ...s.drain, container: name(s.drain.container)! };
  }
  return next;
}

/**
 * A ComponentStatus that always fits in `maxBytes` serialized, still valid against its schema: a
 * record that fits is returned unchanged (the same object); otherwise the last error, check
 * details and lists are cut step by step, each cut text marked `… (truncated, N bytes) …`, until it
 * fits. Pure.
 */
export function fitComponentStatus(status: ComponentStatus, maxBytes = STATUS_MAX_BYTES): ComponentStatus {
  if (jsonBytes(status) <= maxBytes) return status;
  for (const [i, caps] of LADDER.entries()) {
    const candidate = capComponent(status, caps, i === LADDER.length - 1);
    if (jsonBytes(candidate) <= maxBytes) return candidate;
  }
  // Beyond any reason (or a tiny maxBytes): the bare facts, and why the rest is missing.
  return {
    phase: status.phase,
    containers: [],
    lastError: { reason: truncateText(`status of ${jsonBytes(status)} bytes too large to write; see the agent's log`, Math.max(0, maxBytes - 200)), at: status.updatedAt },
    updatedAt: status.updatedAt,
  };
}

/**
 * An AgentStatus that always fits in `maxBytes` serialized, still valid against its schema: each
 * problem's reason is cut (marked as for {@link fitComponentStatus}) and, past a count, the rest are
 * summed up in one last problem `… and N more problems (truncated)`. Pure; a record that fits is
 * returned unchanged.
 */
export function fitAgentStatus(status: AgentStatus, maxBytes = STATUS_MAX_BYTES): AgentStatus {
  if (jsonBytes(status) <= maxBytes) return status;
  for (const [i, caps] of LADDER.entries()) {
    const last = i === LADDER.length - 1;
    const kept = status.problems.slice(0, caps.items).map((p) => fitProblem(p, caps, last ? NAME_BYTES : Infinity));
    const more = status.problems.length - kept.length;
    const candidate: AgentStatus = {
      ...status,
      ...(last && { agentVersion: truncateText(status.agentVersion, NAME_BYTES / 4) }),
      problems: more > 0 ? [...kept, { reason: `… and ${more} more problem${more === 1 ? '' : 's'} (truncated)`, at: status.updatedAt }] : kept,
    };
    if (jsonBytes(candidate) <= maxBytes) return candidate;
  }
  return {
    agentVersion: truncateText(status.agentVersion, 64),
    problems: [{ reason: truncateText(`agent record of ${jsonBytes(status)} bytes too large to write; see the agent's log`, Math.max(0, maxBytes - 200)), at: status.updatedAt }],
    updatedAt: status.updatedAt,
  };
}
