import { describePullError, digestOf, PullProgressTracker, repositoryOf } from './image';

describe('image references', () => {
  it('splits repository and digest', () => {
    expect(repositoryOf('127.0.0.1:5000/gantry/demo-app:v1')).toBe('127.0.0.1:5000/gantry/demo-app');
    expect(repositoryOf('127.0.0.1:5000/gantry/demo-app')).toBe('127.0.0.1:5000/gantry/demo-app');
    expect(repositoryOf(`app@sha256:${'a'.repeat(64)}`)).toBe('app');
    expect(digestOf(`app@sha256:${'a'.repeat(64)}`)).toBe(`sha256:${'a'.repeat(64)}`);
    expect(digestOf('app:v1')).toBeUndefined();
  });
});

describe('PullProgressTracker', () => {
  it('sums layers and bytes, and picks up the digest', () => {
    const t = new PullProgressTracker();
    const digest = `sha256:${'c'.repeat(64)}`;
    t.update({ status: 'Pulling from gantry/demo-app', id: 'v1' });
    t.update({ status: 'Already exists', id: 'aaaaaaaaaaaa' });
    t.update({ status: 'Pulling fs layer', id: 'bbbbbbbbbbbb' });
    t.update({ status: 'Downloading', id: 'bbbbbbbbbbbb', progressDetail: { current: 100, total: 400 } });
    expect(t.progress).toEqual({ layersDone: 1, layersTotal: 2, bytesDone: 100, bytesTotal: 400 });
    t.update({ status: 'Download complete', id: 'bbbbbbbbbbbb' });
    t.update({ status: 'Extracting', id: 'bbbbbbbbbbbb', progressDetail: { current: 50, total: 400 } });
    t.update({ status: 'Pull complete', id: 'bbbbbbbbbbbb' });
    t.update({ status: `Digest: ${digest}` });
    expect(t.progress).toEqual({ layersDone: 2, layersTotal: 2, bytesDone: 400, bytesTotal: 400 });
    expect(t.digest).toBe(digest);
  });
});

describe('describePullError', () => {
  it('says when the image is not in the registry', () => {
    expect(describePullError('127.0.0.1:5000/x:nope', 'manifest for 127.0.0.1:5000/x:nope not found: manifest unknown: manifest unknown').message).toBe(
      'image 127.0.0.1:5000/x:nope not found in registry 127.0.0.1:5000 (manifest unknown)',
    );
  });
  it('says when the registry refuses or cannot be reached', () => {
    expect(describePullError('quay.io/a/b:v1', 'unauthorized: access to the requested resource is not authorized').message).toMatch(/^registry quay.io refused the pull of quay.io\/a\/b:v1/);
    expect(describePullError('127.0.0.1:5001/a:v1', 'Head "http://127.0.0.1:5001/v2/a/manifests/v1": unauthorized: authentication required', 'user gantry from /cfg/config.json auths["127.0.0.1:5001"]').message).toBe(
      'registry 127.0.0.1:5001 refused the pull of 127.0.0.1:5001/a:v1 as unauthorized (credentials: user gantry from /cfg/config.json auths["127.0.0.1:5001"]): Head "http://127.0.0.1:5001/v2/a/manifests/v1": unauthorized: authentication required',
    );
    // What docker says when it had no credentials to send.
    expect(describePullError('127.0.0.1:5001/a:v1', 'Head "http://127.0.0.1:5001/v2/a/manifests/v1": no basic auth credentials', 'anonymous: no credentials for 127.0.0.1:5001 in /cfg/config.json').message).toMatch(
      /^registry 127.0.0.1:5001 refused the pull of 127.0.0.1:5001\/a:v1 as unauthorized \(credentials: anonymous: no credentials for 127.0.0.1:5001 in \/cfg\/config.json\): /,
    );
    expect(describePullError('10.1.1.1:5000/a:v1', 'Get "http://10.1.1.1:5000/v2/": dial tcp 10.1.1.1:5000: connect: connection refused').message).toMatch(
      /^registry 10.1.1.1:5000 unreachable while pulling 10.1.1.1:5000\/a:v1/,
    );
  });
});
