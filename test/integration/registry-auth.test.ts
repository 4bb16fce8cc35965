/**
 * Registry credentials on the real parts: a real gantryd pulls from the password-protected
 * registry (`scripts/services.sh up registry-auth`) with the Docker config it finds through
 * DOCKER_CONFIG: `auths`, then a `credHelpers` helper on its PATH. Wrong credentials fail the update
 * with "unauthorized" naming the registry and the credentials used, and v1 keeps serving.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerContainerRuntime, execCredentialHelper } from '@gantry/agent';
import { ensureDemoImages, httpGet, serviceEnv, waitFor } from '@gantry/testkit';
import { AgentProcess } from '../support/agent-process';
import { authRegistry, forgetLocally, pushToAuthRegistry, type AuthRegistry } from '../support/auth-registry';
import { demoConfig } from '../support/demo-config';
import { Fleet, FLEET_PORT, keys } from '../support/fleet';
import { freeHostAddresses } from '../support/local-host';

const b64 = (s: string) => Buffer.from(s).toString('base64');
/** Pushed as two tags: a failed target is retried only when the intent changes, so the helper's pull asks for another one. */
const V2_TAGS = ['v2', 'v2-helper'];

let registry: AuthRegistry;
let scratch: string;

beforeAll(async () => {
  registry = await authRegistry();
  await ensureDemoImages();
  pushToAuthRegistry(registry, 'gantry/demo-app:v1', 'gantry/demo-app:v1');
  for (const tag of V2_TAGS) pushToAuthRegistry(registry, 'gantry/demo-app:v2', `gantry/demo-app:${tag}`);
  scratch = mkdtempSync(join(tmpdir(), 'gantry-registry-auth-'));
}, 600_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A shell script `docker-credential-NAME` in `dir`: prints what `body` (sh) prints for the server address in $server. */
function writeHelper(dir: string, name: string, body: string): string {
  const path = join(dir, `docker-credential-${name}`);
  writeFileSync(path, `#!/bin/sh\n[ "$1" = get ] || exit 2\nread -r server\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe('one gantryd pulling from the password-protected registry', () => {
  let fleet: Fleet;
  let agent: AgentProcess;
  let dockerConfig: string;
  let helpers: string;
  const configFile = () => join(dockerConfig, 'config.json');
  const writeDockerConfig = (value: object) => writeFileSync(configFile(), JSON.stringify(value), { mode: 0o600 });
  const image = (tag: string) => `${registry.address}/gantry/demo-app:${tag}`;

  beforeAll(async () => {
    dockerConfig = mkdtempSync(join(scratch, 'docker-config-'));
    helpers = mkdtempSync(join(scratch, 'helpers-'));
    for (const tag of ['v1', ...V2_TAGS]) forgetLocally(image(tag));
    fleet = new Fleet(serviceEnv().etcdEndpoints, 'regauth');
    await fleet.etcd.put(keys.config(fleet.project)).value(JSON.stringify(demoConfig(FLEET_PORT, { repo: `${registry.address}/gantry/demo-app`, drainTimeout: 5_000 })));
    const [bindAddress] = await freeHostAddresses(1, FLEET_PORT);
    agent = new AgentProcess({
      hostId: 'h1',
      project: fleet.project,
      bindAddress,
      stateDir: fleet.stateDir,
      etcd: fleet.endpoints,
      env: { DOCKER_CONFIG: dockerConfig, PATH: `${helpers}:${process.env.PATH ?? ''}` },
    }).start();
    fleet.agents = [agent];
  });
  afterAll(async () => {
    await fleet.cleanup();
    for (const tag of ['v1', ...V2_TAGS]) forgetLocally(image(tag));
  });

  it('pulls and runs v1 with the right credentials in auths', async () => {
    writeDockerConfig({ auths: { [registry.address]: { auth: b64(`${registry.user}:${registry.password}`) } } });
    await fleet.setFleetVersion('v1');
    await fleet.converged('v1', 90_000);
    expect((await httpGet(fleet.url(0))).version).toBe('v1');
    expect((await fleet.containers(0)).map((c) => c.image)).toEqual([image('v1')]);
  });

  it('fails v2 with wrong credentials: "unauthorized", naming registry and credentials, never the password; v1 keeps serving', async () => {
    const wrong = `wrong-${registry.password}`;
    writeDockerConfig({ auths: { [registry.address]: { auth: b64(`${registry.user}:${wrong}`) } } });
    const before = (await fleet.containers(0)).map((c) => c.id);
    await fleet.setFleetVersion('v2');
    const status = await waitFor(
      async () => {
        const s = await fleet.status(0);
        return s?.phase === 'failed' && s.lastError ? s : undefined;
      },
      { timeoutMs: 60_000, what: `h1 to report the refused pull\n${agent.tail()}` },
    );
    const reason = status.lastError!.reason;
    expect(reason).toContain(`registry ${registry.address} refused the pull of ${image('v2')} as unauthorized`);
    expect(reason).toContain(`(credentials: user ${registry.user} from ${configFile()} auths["${registry.address}"])`);
    expect(reason).toMatch(/unauthorized: authentication required/);
    for (const secret of [wrong, registry.password]) {
      expect(JSON.stringify(status)).not.toContain(secret);
      expect(agent.logs.join('\n')).not.toContain(secret);
    }
    // Nothing changed: the same v1 container serves.
    expect(status.containers.map((c) => c.version)).toEqual(['v1']);
    expect((await fleet.containers(0)).map((c) => c.id)).toEqual(before);
    expect((await httpGet(fleet.url(0))).version).toBe('v1');
  });

  it('pulls with the credentials a credHelpers helper on its PATH supplies', async () => {
    const asked = join(helpers, 'asked');
    writeHelper(
      helpers,
      'gantrytest',
      `echo "$server" >> '${asked}'
if [ "$server" = '${registry.address}' ]; then
  printf '{"ServerURL":"%s","Username":"%s","Secret":"%s"}' "$server" '${registry.user}' "$(cat '${registry.passwordFile}')"
else
  echo 'credentials not found in native keychain'; exit 1
fi`,
    );
    writeDockerConfig({ credHelpers: { [registry.address]: 'gantrytest' }, auths: { [registry.address]: { auth: b64(`${registry.user}:not-this-one`) } } });
    await fleet.setFleetVersion('v2-helper');
    await fleet.converged('v2-helper', 90_000);
    expect((await httpGet(fleet.url(0))).version).toBe('v2');
    expect((await fleet.containers(0)).map((c) => c.image)).toEqual([image('v2-helper')]);
    expect(readFileSync(asked, 'utf8')).toBe(`${registry.address}\n`);
    expect(agent.logs.join('\n')).not.toContain(registry.password);
  });
});

describe('a runtime without credentials for the registry', () => {
  it('is refused as unauthorized, saying it pulled anonymously and which config it read', async () => {
    const config = join(scratch, 'empty-config.json');
    writeFileSync(config, '{}');
    forgetLocally(`${registry.address}/gantry/demo-app:v2`);
    const runtime = new DockerContainerRuntime({ dockerHost: serviceEnv().dockerHost, dockerConfigPath: config });
    await expect(runtime.ensureImage(`${registry.address}/gantry/demo-app:v2`)).rejects.toThrow(
      `registry ${registry.address} refused the pull of ${registry.address}/gantry/demo-app:v2 as unauthorized (credentials: anonymous: no credentials for ${registry.address} in ${config}): `,
    );
  });
});

describe('the credential helper process', () => {
  it('gets the server address on stdin and its stdout back', async () => {
    const helper = writeHelper(scratch, 'echoing', 'printf \'{"ServerURL":"%s"}\' "$server"');
    await expect(execCredentialHelper(helper, '127.0.0.1:5001', { timeoutMs: 5_000 })).resolves.toEqual({ kind: 'exited', code: 0, stdout: '{"ServerURL":"127.0.0.1:5001"}', stderr: '' });
  });

  it('tells a missing program, a failure and a helper past its deadline apart', async () => {
    await expect(execCredentialHelper(join(scratch, 'docker-credential-absent'), 'x', { timeoutMs: 5_000 })).resolves.toEqual({ kind: 'missing' });
    const failing = writeHelper(scratch, 'failing', 'echo "credentials not found in native keychain"; exit 1');
    await expect(execCredentialHelper(failing, 'x', { timeoutMs: 5_000 })).resolves.toEqual({ kind: 'exited', code: 1, stdout: 'credentials not found in native keychain\n', stderr: '' });
    const hanging = writeHelper(scratch, 'hanging', 'exec sleep 60');
    const t0 = Date.now();
    await expect(execCredentialHelper(hanging, 'x', { timeoutMs: 300 })).resolves.toEqual({ kind: 'timed-out' });
    expect(Date.now() - t0).toBeLessThan(5_000);
  });
});
