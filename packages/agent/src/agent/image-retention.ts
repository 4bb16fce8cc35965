import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { repositoryOf } from '../runtime/image';
import type { ContainerRuntime, LocalImage } from '../runtime/container-runtime';
import type { Logger } from './logger';

/** Images of the last N versions of each component a host ran are kept (an undo needs no pull); gantryd's --keep-images. */
export const DEFAULT_KEEP_IMAGES = 3;

export interface PruneInput {
  /** The component's repository (its config's `repo`). */
  repo: string;
  /** How many of the versions it ran last are kept. */
  keep: number;
  /** The versions this host ran of the component, most recent first. */
  ran: readonly string[];
  /** The images dockerd has, with their tags ("repo:tag"). */
  images: readonly LocalImage[];
  /** Image ids some container (any, ours or not, running or not) was made from. */
  inUse: ReadonlySet<string>;
  /** Versions something still names: the desired version, a prepull's. */
  protectedVersions: ReadonlySet<string>;
}

/**
 * The tags of `repo` to remove: those of versions this host ran before its last `keep` ones. Never
 * a tag of a version it never ran (pulled by hand, pre-pulled for a rollout that was aborted:
 * unknown, so not ours to judge), of an image a container was made from, or of a version still
 * named. Removing a tag only untags an image that has other tags. Pure.
 */
export function imagesToPrune(input: PruneInput): string[] {
  const kept = new Set([...new Set(input.ran)].slice(0, Math.max(0, input.keep)));
  const ran = new Set(input.ran);
  const out: string[] = [];
  for (const image of input.images) {
    if (input.inUse.has(image.id)) continue;
    for (const ref of image.tags) {
      if (repositoryOf(ref) !== input.repo) continue;
      const version = ref.slice(input.repo.length + 1);
      if (ran.has(version) && !kept.has(version) && !input.protectedVersions.has(version)) out.push(ref);
    }
  }
  return out.sort();
}

type History = Record<string, Record<string, string[]>>;

/**
 * What a host ran, per project and component (most recent first, in a file of its state directory
 * so a restart remembers), and the pruning after each update. Failures are logged, never fatal: an
 * image left behind costs disk, not service.
 */
export class ImageRetention {
  private history: History;

  constructor(private readonly opts: { runtime: ContainerRuntime; file: string; keep: number; log: Logger }) {
    this.history = ImageRetention.load(opts.file, opts.log);
  }

  private static load(file: string, log: Logger): History {
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
      return parsed && typeof parsed === 'object' ? (parsed as History) : {};
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn('image history unreadable: starting a new one (older images are kept until then)', { file, error: (err as Error).message });
      return {};
    }
  }

  /** The versions of a component ran here, most recent first. */
  ran(project: string, component: string): string[] {
    return this.history[project]?.[component] ?? [];
  }

  /** The component runs `version` now: it goes first in its history (written only when that changes). */
  record(project: string, component: string, version: string): void {
    const before = this.ran(project, component);
    if (before[0] === version) return;
    // Enough to know what to prune: the kept ones and a few beyond.
    const after = [version, ...before.filter((v) => v !== version)].slice(0, Math.max(this.opts.keep, 1) + 20);
    this.history = { ...this.history, [project]: { ...this.history[project], [component]: after } };
    try {
      mkdirSync(dirname(this.opts.file), { recursive: true });
      // Written whole, then renamed: a crash leaves the old file or the new one, never half of one.
      writeFileSync(`${this.opts.file}.tmp`, JSON.stringify(this.history));
      renameSync(`${this.opts.file}.tmp`, this.opts.file);
    } catch (err) {
      this.opts.log.warn('could not write the image history; pruning goes by what this process saw', { file: this.opts.file, error: (err as Error).message });
    }
  }

  /** Removes the component's images beyond the kept versions; returns the tags removed. */
  async prune(project: string, component: string, repo: string, protectedVersions: ReadonlySet<string>): Promise<string[]> {
    const { runtime, log, keep } = this.opts;
    if (!runtime.listImages || !runtime.imagesInUse || !runtime.removeImage) return [];
    try {
      const [images, inUse] = await Promise.all([runtime.listImages(repo), runtime.imagesInUse()]);
      const doomed = imagesToPrune({ repo, keep, ran: this.ran(project, component), images, inUse, protectedVersions });
      const removed: string[] = [];
      for (const ref of doomed) {
        try {
          await runtime.removeImage(ref);
          removed.push(ref);
        } catch (err) {
          log.warn('could not remove an old image; kept', { component, image: ref, error: (err as Error).message });
        }
      }
      if (removed.length > 0) log.info('removed images of versions older than the last ones kept', { component, keep, removed });
      return removed;
    } catch (err) {
      log.warn('could not prune old images; trying again after the next update', { component, error: (err as Error).message });
      return [];
    }
  }
}
