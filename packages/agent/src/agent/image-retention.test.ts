import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import winston from 'winston';
import type { ContainerRuntime } from '../runtime/container-runtime';
import { ImageRetention, imagesToPrune, type PruneInput } from './image-retention';

const repo = 'reg:5000/app';
const image = (id: string, ...versions: string[]) => ({ id, tags: versions.map((v) => `${repo}:${v}`) });
const base: PruneInput = {
  repo,
  keep: 3,
  ran: ['v4', 'v3', 'v2', 'v1'],
  images: [image('i1', 'v1'), image('i2', 'v2'), image('i3', 'v3'), image('i4', 'v4')],
  inUse: new Set(['i4']),
  protectedVersions: new Set(),
};

describe('imagesToPrune', () => {
  it('removes the versions ran before the last N, and nothing else', () => {
    expect(imagesToPrune(base)).toEqual([`${repo}:v1`]);
    expect(imagesToPrune({ ...base, keep: 1 })).toEqual([`${repo}:v1`, `${repo}:v2`, `${repo}:v3`]);
    expect(imagesToPrune({ ...base, keep: 10 })).toEqual([]);
  });

  it('an undo counts as the last ran: v2 again keeps v2, v4, v3', () => {
    expect(imagesToPrune({ ...base, ran: ['v2', 'v4', 'v3', 'v2', 'v1'], images: [...base.images] })).toEqual([`${repo}:v1`]);
    expect(imagesToPrune({ ...base, keep: 2, ran: ['v2', 'v4', 'v3', 'v1'] })).toEqual([`${repo}:v1`, `${repo}:v3`]);
  });

  it('never an image a container was made from, a version still named, one never ran here, or another repo', () => {
    const images = [image('i1', 'v1'), image('i0', 'v0'), image('i9', 'hand-pulled'), { id: 'other', tags: ['reg:5000/other:v1', 'reg:5000/app-x:v1'] }];
    expect(imagesToPrune({ ...base, keep: 1, ran: ['v4', 'v1', 'v0'], images, inUse: new Set(['i1']) })).toEqual([`${repo}:v0`]);
    expect(imagesToPrune({ ...base, keep: 1, ran: ['v4', 'v1', 'v0'], images, inUse: new Set(), protectedVersions: new Set(['v0']) })).toEqual([`${repo}:v1`]);
  });
});

describe('ImageRetention', () => {
  const silent = winston.createLogger({ silent: true });
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'retention-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('remembers what ran across restarts, and a failed removal is logged, not thrown', async () => {
    const file = join(dir, 'h1', 'images', 'p.json');
    const removed: string[] = [];
    const runtime = {
      listImages: async () => [image('i1', 'v1'), image('i2', 'v2'), image('i3', 'v3')],
      imagesInUse: async () => new Set(['i3']),
      removeImage: async (ref: string) => {
        if (ref.endsWith(':v2')) throw new Error('conflict: image is being used by stopped container');
        removed.push(ref);
      },
    } as unknown as ContainerRuntime;
    const first = new ImageRetention({ runtime, file, keep: 1, log: silent });
    for (const v of ['v1', 'v2', 'v3', 'v3']) first.record('p', 'web', v);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ p: { web: ['v3', 'v2', 'v1'] } });
    const again = new ImageRetention({ runtime, file, keep: 1, log: silent });
    expect(again.ran('p', 'web')).toEqual(['v3', 'v2', 'v1']);
    expect(await again.prune('p', 'web', repo, new Set(['v3']))).toEqual([`${repo}:v1`]);
    expect(removed).toEqual([`${repo}:v1`]);
  });
});
