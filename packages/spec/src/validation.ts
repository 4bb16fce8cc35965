import type { z } from 'zod';

/** One thing wrong with a value: where (a JSON path such as `components[0].ports[1].external`) and what. */
export interface ValidationProblem {
  path: string;
  message: string;
}

/** A value failed its schema. `problems` lists every issue at once, each with its JSON path. */
export class ValidationError extends Error {
  constructor(
    readonly source: string,
    readonly problems: ValidationProblem[],
  ) {
    super(`${source} is invalid:\n${problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n')}`);
    this.name = 'ValidationError';
  }
}

export function jsonPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out ? `.${String(key)}` : String(key);
  return out || '(root)';
}

/** Flattens zod issues (including union branches) into path + message pairs. */
export function problemsOf(error: z.ZodError): ValidationProblem[] {
  return error.issues.map((issue) => ({
    path: jsonPath(issue.path),
    // zod says "expected number, received undefined" for a missing field; say it plainly.
    message: issue.code === 'invalid_type' && issue.message.endsWith('received undefined') ? `required (expected ${issue.expected})` : issue.message,
  }));
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: ValidationError };

/**
 * Parses JSON text against a schema without throwing: bad JSON and bad values both come back as a
 * ValidationError naming `source` (a file path or an etcd key), so callers report and carry on.
 */
export function parseJson<S extends z.ZodType>(schema: S, text: string, source: string): Parsed<z.infer<S>> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: new ValidationError(source, [{ path: '(root)', message: `not valid JSON: ${(err as Error).message}` }]) };
  }
  return parseValue(schema, raw, source);
}

export function parseValue<S extends z.ZodType>(schema: S, raw: unknown, source: string): Parsed<z.infer<S>> {
  const result = schema.safeParse(raw);
  return result.success ? { ok: true, value: result.data } : { ok: false, error: new ValidationError(source, problemsOf(result.error)) };
}
