import winston from 'winston';
import type { PrepullStatus } from '@gantry/spec';
import type { ContainerRuntime, EnsureImageRequest, ImageInfo } from '../runtime/container-runtime';
import { Prepuller } from './prepuller';
import type { PrepullJob } from './prepull-intent';

const silent = winston.createLogger({ silent: true });
const job = (version: string, rollout = 'r1'): PrepullJob => ({ component: 'web', rollout, version, image: `app:${version}` });

/** ensureImage answered by hand: each call waits for the test to resolve or reject it. */
function manualRuntime() {
  const calls: { ref: string; opts?: EnsureImageRequest; resolve: (i: ImageInfo) => void; reject: (e: Error) => void }[] = [];
  const runtime = { ensureImage: (ref: string, opts?: EnsureImageRequest) => new Promise<ImageInfo>((resolve, reject) => calls.push({ ref, opts, resolve, reject })) } as unknown as ContainerRuntime;
  return { runtime, calls };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('Prepuller', () => {
  it('answers pulling with progress, then pulled with the image id', async () => {
    const { runtime, calls } = manualRuntime();
    const seen: (PrepullStatus | undefined)[] = [];
    const p = new Prepuller({ runtime, log: silent, onStatus: (_c, s) => seen.push(s) });
    p.want(new Map([['web', job('v2')]]));
    expect(calls.map((c) => c.ref)).toEqual(['app:v2']);
    calls[0].opts?.onProgress?.({ layersDone: 1, layersTotal: 2, bytesDone: 10, bytesTotal: 20 });
    calls[0].resolve({ id: 'sha256:abc', repoDigests: [], pulled: true });
    await settle();
    expect(seen.map((s) => s?.state)).toEqual(['pulling', 'pulling', 'pulled']);
    expect(seen[1]?.progress).toEqual({ layersDone: 1, layersTotal: 2, bytesDone: 10, bytesTotal: 20 });
    expect(seen[2]).toEqual({ rollout: 'r1', version: 'v2', image: 'app:v2', state: 'pulled', imageId: 'sha256:abc' });
    // The same request again (any refresh): nothing new.
    p.want(new Map([['web', job('v2')]]));
    expect(calls).toHaveLength(1);
  });

  it("answers failed with the runtime's words, and is not retried for the same request", async () => {
    const { runtime, calls } = manualRuntime();
    const seen: (PrepullStatus | undefined)[] = [];
    const p = new Prepuller({ runtime, log: silent, onStatus: (_c, s) => seen.push(s) });
    p.want(new Map([['web', job('nope')]]));
    calls[0].reject(new Error('image app:nope not found in registry reg (manifest unknown)'));
    await settle();
    expect(seen.at(-1)).toMatchObject({ state: 'failed', error: 'image app:nope not found in registry reg (manifest unknown)' });
    p.want(new Map([['web', job('nope')]]));
    expect(calls).toHaveLength(1);
  });

  it('abandons a pull asked for no more (its field goes), and a replaced one says nothing more', async () => {
    const { runtime, calls } = manualRuntime();
    const seen: [string, PrepullStatus | undefined][] = [];
    const p = new Prepuller({ runtime, log: silent, onStatus: (c, s) => seen.push([c, s]) });
    p.want(new Map([['web', job('v2')]]));
    p.want(new Map([['web', job('v3', 'r2')]]));
    expect(calls[0].opts?.signal?.aborted).toBe(true);
    calls[0].resolve({ id: 'old', repoDigests: [], pulled: true });
    await settle();
    expect(seen.map(([, s]) => `${s?.rollout}:${s?.state}`)).toEqual(['r1:pulling', 'r2:pulling']);
    p.want(new Map());
    expect(calls[1].opts?.signal?.aborted).toBe(true);
    expect(seen.at(-1)).toEqual(['web', undefined]);
    await p.stop();
  });
});
