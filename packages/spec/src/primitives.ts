import { z } from 'zod';

export const portNumber = z.number().int().min(1).max(65535);

/** A duration in seconds, as Gantryd's check `timeout`; fractions allowed. */
export const seconds = z.number().positive().max(86_400);

/** A duration in milliseconds, as Gantryd's `readyTimeout`. */
export const milliseconds = z.number().int().min(0).max(7 * 86_400_000);

/** Names that end up in container names, HAProxy sections and etcd keys. */
export const identifier = z
  .string()
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, 'letters, digits, "_", "." and "-", starting with a letter or digit, at most 63 characters');

const memoryUnits: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Memory as bytes, or a string with a unit as Docker takes it ("512m", "1g"). Parsed to bytes. */
export const memoryBytes = z.union([z.number().int().positive(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') return value;
  const match = /^(\d+(?:\.\d+)?)\s*([bkmg])?b?$/i.exec(value.trim());
  if (!match) {
    ctx.addIssue({ code: 'custom', message: `expected bytes or a size like "512m" or "1g", got "${value}"` });
    return z.NEVER;
  }
  return Math.round(Number(match[1]) * memoryUnits[(match[2] ?? 'b').toLowerCase()]);
});
