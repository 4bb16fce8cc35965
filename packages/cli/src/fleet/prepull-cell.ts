import type { PrepullStatus } from '@gantry/spec';

const MB = 1_000_000;

/**
 * A host's answer to a rollout's pre-pull, beside its phase in `gantry status` and the rollout
 * view: `pre-pull v2: pulling 1/3 layers 5/50 MB`, `pre-pull v2: pulled`, `pre-pull v2: failed`
 * (the reason is in the error column: the rollout names it).
 */
export function prepullText(prepull: PrepullStatus): string {
  const p = prepull.progress;
  const progress = prepull.state === 'pulling' && p && p.layersTotal > 0 ? ` ${p.layersDone}/${p.layersTotal} layers${p.bytesTotal > 0 ? ` ${Math.round(p.bytesDone / MB)}/${Math.round(p.bytesTotal / MB)} MB` : ''}` : '';
  return `pre-pull ${prepull.version}: ${prepull.state}${progress}`;
}
