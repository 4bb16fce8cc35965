import { z } from 'zod';

/**
 * A rollout's preflight asks each selected host to pull the image of the version it rolls out
 * before any batch starts, at `hosts/<host>/prepull/<component>` (under the host's own keys: a host
 * agent reads only those, the config and the desired versions). Written and deleted by the
 * coordinator only; the host answers in its component status (`prepull`).
 */
const tag = z.string().regex(/^[\w][\w.-]{0,127}$/, 'a Docker tag');

export const prepullRequestSchema = z.strictObject({
  /** The rollout that asks: the host's answer names it, so an answer about another rollout never counts. */
  rollout: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, 'a rollout id'),
  /** The version to pull; the image is the component's `repo` in the host's config with this tag, as the update will run it. */
  version: tag,
  /** For people: when the coordinator asked (never compared with a clock). */
  setAt: z.iso.datetime({ offset: true }).optional(),
});
export type PrepullRequest = z.infer<typeof prepullRequestSchema>;

/** How a pull adds up: layers, and bytes of the layers whose size is known yet. */
export const pullProgressSchema = z.strictObject({ layersDone: z.number(), layersTotal: z.number(), bytesDone: z.number(), bytesTotal: z.number() });

/** A host's answer to a prepull request, in its component status. */
export const prepullStatusSchema = z.strictObject({
  rollout: z.string().max(200),
  version: z.string(),
  /** The image reference pulled. */
  image: z.string(),
  /** `pulling` (with progress once the daemon reports layers), `pulled` (present now), `failed` (with `error`). */
  state: z.enum(['pulling', 'pulled', 'failed']),
  progress: pullProgressSchema.optional(),
  /** The image id once pulled. */
  imageId: z.string().optional(),
  /** Why the pull failed: the registry's words (`not found`, `unauthorized`, unreachable). */
  error: z.string().optional(),
});
export type PrepullStatus = z.infer<typeof prepullStatusSchema>;
