import { prepullText } from './prepull-cell';

describe('prepullText', () => {
  const base = { rollout: 'r1', version: 'v2', image: 'app:v2' };
  it('says the state, with progress while pulling', () => {
    expect(prepullText({ ...base, state: 'pulling' })).toBe('pre-pull v2: pulling');
    expect(prepullText({ ...base, state: 'pulling', progress: { layersDone: 1, layersTotal: 3, bytesDone: 5_000_000, bytesTotal: 50_000_000 } })).toBe('pre-pull v2: pulling 1/3 layers 5/50 MB');
    expect(prepullText({ ...base, state: 'pulled', imageId: 'sha256:1' })).toBe('pre-pull v2: pulled');
    expect(prepullText({ ...base, state: 'failed', error: 'not found' })).toBe('pre-pull v2: failed');
  });
});
