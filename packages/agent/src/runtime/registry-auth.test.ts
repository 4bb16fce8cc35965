import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HelperOutcome, RunHelper } from './credential-helper';
import { credentialsForImage, credentialSourceFor, credentialsFromAuthsEntry, dockerConfigPath, normalizeRegistry, readDockerConfig, registryOfImage, serverAddressOf } from './registry-auth';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('registryOfImage', () => {
  it.each([
    ['nginx', 'docker.io'],
    ['nginx:1.25', 'docker.io'],
    ['library/nginx', 'docker.io'],
    ['org/app:v1', 'docker.io'],
    ['docker.io/org/app', 'docker.io'],
    ['index.docker.io/org/app', 'docker.io'],
    ['127.0.0.1:5000/gantry/demo-app:v1', '127.0.0.1:5000'],
    ['localhost/app', 'localhost'],
    ['localhost:5000/app@sha256:abc', 'localhost:5000'],
    ['quay.io/org/app:latest', 'quay.io'],
  ])('%s → %s', (ref, registry) => expect(registryOfImage(ref)).toBe(registry));
});

describe('normalizeRegistry', () => {
  it('strips scheme and path, folds Docker Hub aliases', () => {
    expect(normalizeRegistry('https://index.docker.io/v1/')).toBe('docker.io');
    expect(normalizeRegistry('registry-1.docker.io')).toBe('docker.io');
    expect(normalizeRegistry('http://127.0.0.1:5000/v2/')).toBe('127.0.0.1:5000');
    expect(normalizeRegistry('Quay.IO')).toBe('quay.io');
  });
});

describe('credentialSourceFor', () => {
  it('finds the auths entry under any spelling of the registry', () => {
    const entry = { auth: b64('u:p') };
    expect(credentialSourceFor({ auths: { 'https://127.0.0.1:5000': entry } }, '127.0.0.1:5000')).toEqual({ kind: 'auths', key: 'https://127.0.0.1:5000', entry });
    expect(credentialSourceFor({ auths: { 'https://index.docker.io/v1/': entry } }, registryOfImage('org/app:v1'))).toMatchObject({ kind: 'auths' });
  });

  it('is none when nothing is configured for the registry', () => {
    expect(credentialSourceFor({}, 'quay.io')).toEqual({ kind: 'none' });
    expect(credentialSourceFor({ auths: { 'ghcr.io': { auth: b64('a:b') } } }, 'quay.io')).toEqual({ kind: 'none' });
  });

  it('prefers the registry\'s credHelpers entry, then credsStore, over auths, as the Docker CLI does', () => {
    const auths = { 'quay.io': { auth: b64('a:b') } };
    expect(credentialSourceFor({ auths, credHelpers: { 'https://quay.io': 'ecr-login' }, credsStore: 'pass' }, 'quay.io')).toEqual({
      kind: 'helper',
      helper: 'ecr-login',
      setting: 'credHelpers["https://quay.io"]',
    });
    expect(credentialSourceFor({ auths, credHelpers: { 'ghcr.io': 'x' }, credsStore: 'pass' }, 'quay.io')).toEqual({ kind: 'helper', helper: 'pass', setting: 'credsStore' });
    // A global store is asked for every registry, logged in or not (it answers "not found" for those).
    expect(credentialSourceFor({ credsStore: 'pass' }, 'ghcr.io')).toMatchObject({ kind: 'helper', helper: 'pass' });
  });
});

describe('credentialsFromAuthsEntry', () => {
  it('decodes auth, keeping colons in the password', () => {
    expect(credentialsFromAuthsEntry('quay.io', { auth: b64('robot:s3cr:et') }, 'quay.io')).toEqual({ username: 'robot', password: 's3cr:et', serveraddress: 'quay.io' });
  });

  it('reads username/password fields, or an identity token', () => {
    expect(credentialsFromAuthsEntry('k', { username: 'u', password: 'p' }, '127.0.0.1:5000')).toEqual({ username: 'u', password: 'p', serveraddress: '127.0.0.1:5000' });
    expect(credentialsFromAuthsEntry('k', { identitytoken: 'tok' }, 'quay.io')).toEqual({ identitytoken: 'tok', serveraddress: 'quay.io' });
  });

  it('holds nothing in an empty marker, and rejects a malformed auth without quoting it', () => {
    expect(credentialsFromAuthsEntry('k', {}, 'quay.io')).toBeUndefined();
    const bad = () => credentialsFromAuthsEntry('quay.io', { auth: b64('s3cretnocolon') }, 'quay.io');
    expect(bad).toThrow('docker config: auths["quay.io"].auth is not base64 of "user:password"');
    expect(bad).not.toThrow(/s3cret/);
  });
});

describe('serverAddressOf', () => {
  it('is the key Docker logs in under', () => {
    expect(serverAddressOf('docker.io')).toBe('https://index.docker.io/v1/');
    expect(serverAddressOf('127.0.0.1:5001')).toBe('127.0.0.1:5001');
  });
});

describe('credentialsForImage', () => {
  let dir: string;
  let config: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gantry-auth-'));
    config = join(dir, 'config.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const write = (value: object) => writeFileSync(config, JSON.stringify(value));
  const answering = (outcome: HelperOutcome) => {
    const calls: Array<{ program: string; stdin: string }> = [];
    const run: RunHelper = async (program, stdin) => {
      calls.push({ program, stdin });
      return outcome;
    };
    return { run, calls };
  };

  it('reads auths from the file, and names where they came from', async () => {
    write({ auths: { '127.0.0.1:5000': { auth: b64('u:p') } } });
    await expect(credentialsForImage('127.0.0.1:5000/gantry/demo-app:v1', config)).resolves.toEqual({
      auth: { username: 'u', password: 'p', serveraddress: '127.0.0.1:5000' },
      source: `user u from ${config} auths["127.0.0.1:5000"]`,
    });
    await expect(credentialsForImage('nginx', config)).resolves.toEqual({ source: `anonymous: no credentials for docker.io in ${config}` });
  });

  it('asks the helper for the registry\'s server address, and names the helper', async () => {
    write({ credHelpers: { '127.0.0.1:5001': 'gantrytest' } });
    const helper = answering({ kind: 'exited', code: 0, stdout: JSON.stringify({ ServerURL: '127.0.0.1:5001', Username: 'gantry', Secret: 'pw' }), stderr: '' });
    const found = await credentialsForImage('127.0.0.1:5001/gantry/demo-app:v1', config, { runHelper: helper.run });
    expect(helper.calls).toEqual([{ program: 'docker-credential-gantrytest', stdin: '127.0.0.1:5001' }]);
    expect(found).toEqual({
      auth: { username: 'gantry', password: 'pw', serveraddress: '127.0.0.1:5001' },
      source: `user gantry from docker-credential-gantrytest (credHelpers["127.0.0.1:5001"] in ${config})`,
    });
    expect(found.source).not.toContain('pw');
  });

  it('asks a credsStore for Docker Hub under its login key; "not found" is anonymous', async () => {
    write({ credsStore: 'pass', auths: { 'https://index.docker.io/v1/': {} } });
    const helper = answering({ kind: 'exited', code: 1, stdout: 'credentials not found in native keychain\n', stderr: '' });
    await expect(credentialsForImage('org/app:v1', config, { runHelper: helper.run })).resolves.toEqual({
      source: `anonymous: docker-credential-pass (credsStore in ${config}) has no credentials for docker.io`,
    });
    expect(helper.calls[0].stdin).toBe('https://index.docker.io/v1/');
  });

  it('passes an identity token on as one', async () => {
    write({ credsStore: 'ecr' });
    const helper = answering({ kind: 'exited', code: 0, stdout: JSON.stringify({ Username: '<token>', Secret: 'tok' }), stderr: '' });
    await expect(credentialsForImage('quay.io/a/b:v1', config, { runHelper: helper.run })).resolves.toEqual({
      auth: { identitytoken: 'tok', serveraddress: 'quay.io' },
      source: `an identity token from docker-credential-ecr (credsStore in ${config})`,
    });
  });

  it('fails when the helper cannot answer, naming helper, setting and registry', async () => {
    write({ credHelpers: { 'quay.io': 'gone' } });
    await expect(credentialsForImage('quay.io/a/b:v1', config, { runHelper: answering({ kind: 'missing' }).run })).rejects.toThrow(
      `credential helper docker-credential-gone (credHelpers["quay.io"] in ${config}) is not on PATH: cannot get credentials for registry quay.io`,
    );
  });
});

describe('docker config file', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'gantry-auth-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the config in $DOCKER_CONFIG, else ~/.docker', () => {
    expect(dockerConfigPath({ DOCKER_CONFIG: '/cfg' }, '/home/u')).toBe('/cfg/config.json');
    expect(dockerConfigPath({}, '/home/u')).toBe('/home/u/.docker/config.json');
  });

  it('treats a missing file as no credentials, and names a broken one', () => {
    expect(readDockerConfig(join(dir, 'missing.json'))).toEqual({});
    writeFileSync(join(dir, 'config.json'), '{ nope');
    expect(() => readDockerConfig(join(dir, 'config.json'))).toThrow(`docker config ${join(dir, 'config.json')} is not valid`);
  });
});
