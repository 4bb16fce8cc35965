import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentialsForImage, dockerConfigPath, normalizeRegistry, readDockerConfig, registryOfImage, resolveRegistryCredentials } from './registry-auth';

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

describe('resolveRegistryCredentials', () => {
  it('decodes auths[registry].auth', () => {
    expect(resolveRegistryCredentials({ auths: { 'quay.io': { auth: b64('robot:s3cr:et') } } }, 'quay.io')).toEqual({
      username: 'robot',
      password: 's3cr:et',
      serveraddress: 'quay.io',
    });
  });

  it('reads username/password fields', () => {
    expect(resolveRegistryCredentials({ auths: { 'https://127.0.0.1:5000': { username: 'u', password: 'p' } } }, '127.0.0.1:5000')).toEqual({
      username: 'u',
      password: 'p',
      serveraddress: '127.0.0.1:5000',
    });
  });

  it('reads an identity token', () => {
    expect(resolveRegistryCredentials({ auths: { 'quay.io': { identitytoken: 'tok' } } }, 'quay.io')).toEqual({ identitytoken: 'tok', serveraddress: 'quay.io' });
  });

  it('finds Docker Hub credentials under https://index.docker.io/v1/', () => {
    const config = { auths: { 'https://index.docker.io/v1/': { auth: b64('me:pw') } } };
    expect(resolveRegistryCredentials(config, 'docker.io')).toEqual({ username: 'me', password: 'pw', serveraddress: 'https://index.docker.io/v1/' });
    expect(resolveRegistryCredentials(config, registryOfImage('org/app:v1'))?.username).toBe('me');
  });

  it('is anonymous when nothing is configured for the registry', () => {
    expect(resolveRegistryCredentials({}, 'quay.io')).toBeUndefined();
    expect(resolveRegistryCredentials({ auths: { 'ghcr.io': { auth: b64('a:b') } } }, 'quay.io')).toBeUndefined();
    // A global store that holds no login for this registry does not matter either.
    expect(resolveRegistryCredentials({ credsStore: 'desktop', auths: { 'ghcr.io': {} } }, 'quay.io')).toBeUndefined();
  });

  it('refuses credential helpers clearly', () => {
    expect(() => resolveRegistryCredentials({ credHelpers: { 'quay.io': 'ecr-login' } }, 'quay.io')).toThrow(
      'credential helper "ecr-login" (credHelpers["quay.io"]) not supported; put credentials for quay.io in auths',
    );
    expect(() => resolveRegistryCredentials({ credsStore: 'desktop', auths: { 'https://index.docker.io/v1/': {} } }, 'docker.io')).toThrow(
      /credential helper "desktop" \(credsStore\) not supported; put credentials for docker.io in auths/,
    );
    // Credentials in auths win over a helper.
    expect(resolveRegistryCredentials({ credHelpers: { 'quay.io': 'x' }, auths: { 'quay.io': { auth: b64('a:b') } } }, 'quay.io')?.username).toBe('a');
  });

  it('rejects a malformed auth', () => {
    expect(() => resolveRegistryCredentials({ auths: { 'quay.io': { auth: b64('nocolon') } } }, 'quay.io')).toThrow(/not base64 of "user:password"/);
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

  it('reads credentials for an image from the file', () => {
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { '127.0.0.1:5000': { auth: b64('u:p') } } }));
    expect(credentialsForImage('127.0.0.1:5000/gantry/demo-app:v1', join(dir, 'config.json'))).toEqual({ username: 'u', password: 'p', serveraddress: '127.0.0.1:5000' });
    expect(credentialsForImage('nginx', join(dir, 'config.json'))).toBeUndefined();
  });
});
