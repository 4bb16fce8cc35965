import type { Component } from './component';

/** What stands where a secret was. */
export const REDACTED = '***';

/**
 * Secrets shorter than this are not searched for in free text (logs, errors): replacing every
 * "ab" would garble the text and tell the secret anyway. Config output hides them whatever their length.
 */
export const MIN_REDACTED_LENGTH = 4;

/** The values a component's config marks `secret: true` (its `valueFrom` contents are only known on the host). */
export function secretValuesOf(component: Pick<Component, 'environmentVariables'>): string[] {
  return component.environmentVariables.filter((v) => v.secret === true && v.value !== undefined).map((v) => v.value!);
}

/** `text` with every occurrence of each known secret replaced by `***`, longest first (one may contain another). */
export function redactSecrets(text: string, secrets: Iterable<string>): string {
  const known = [...new Set(secrets)].filter((s) => s.length >= MIN_REDACTED_LENGTH).sort((a, b) => b.length - a.length);
  let out = text;
  for (const secret of known) out = out.split(secret).join(REDACTED);
  return out;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A stored config as JSON (valid or not: an invalid one is shown too) with the value of every
 * environment variable marked `secret: true` replaced by `***`. Works on the raw JSON, never
 * the parsed config, so that it also hides what an invalid config holds.
 */
export function redactConfigJson(raw: unknown): unknown {
  if (!isRecord(raw) || !Array.isArray(raw.components)) return raw;
  return {
    ...raw,
    components: raw.components.map((component) => {
      if (!isRecord(component) || !Array.isArray(component.environmentVariables)) return component;
      return {
        ...component,
        environmentVariables: component.environmentVariables.map((v) => (isRecord(v) && v.secret === true && 'value' in v ? { ...v, value: REDACTED } : v)),
      };
    }),
  };
}
