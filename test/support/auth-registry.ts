import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, serviceEnv, type ServiceEnv } from '@gantry/testkit';

export type AuthRegistry = NonNullable<ServiceEnv['registryAuth']> & { password: string };

async function accepts(registry: AuthRegistry): Promise<boolean> {
  const basic = `Basic ${Buffer.from(`${registry.user}:${registry.password}`).toString('base64')}`;
  try {
    const res = await fetch(`http://${registry.address}/v2/`, { headers: { authorization: basic }, signal: AbortSignal.timeout(2_000) });
    return res.status === 200;
  } catch {
    return false;
  }
}

function fromEnvFile(): AuthRegistry | undefined {
  const entry = serviceEnv().registryAuth;
  if (!entry) return undefined;
  try {
    return { ...entry, password: readFileSync(entry.passwordFile, 'utf8').trim() };
  } catch {
    return undefined;
  }
}

/**
 * The password-protected registry of `scripts/services.sh up registry-auth`, started by that
 * command when env.json does not name one that accepts its own user and password.
 */
export async function authRegistry(): Promise<AuthRegistry> {
  const known = fromEnvFile();
  if (known && (await accepts(known))) return known;
  const script = join(repoRoot(), 'scripts', 'services.sh');
  try {
    execFileSync('bash', [script, 'up', 'registry-auth'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
    throw new Error(`the password-protected registry is not up and \`bash scripts/services.sh up registry-auth\` failed:\n${stderr || (err as Error).message}`);
  }
  const started = fromEnvFile();
  if (!started || !(await accepts(started))) throw new Error('`bash scripts/services.sh up registry-auth` ran, but env.json names no registry that accepts its user and password');
  return started;
}

/** Runs the docker CLI against the services' engine with its own config directory `config`. */
function dockerCli(config: string, args: string[], input?: string): void {
  execFileSync('docker', ['--config', config, ...args], { input, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, DOCKER_HOST: serviceEnv().dockerHost } });
}

/** Pushes local image `local` to the registry as `remote` ("gantry/demo-app:v2"), logged in with a throwaway config; untags it again locally. */
export function pushToAuthRegistry(registry: AuthRegistry, local: string, remote: string): void {
  const config = mkdtempSync(join(tmpdir(), 'gantry-docker-login-'));
  try {
    dockerCli(config, ['login', registry.address, '-u', registry.user, '--password-stdin'], registry.password);
    dockerCli(config, ['tag', local, `${registry.address}/${remote}`]);
    dockerCli(config, ['push', `${registry.address}/${remote}`]);
  } finally {
    rmSync(config, { recursive: true, force: true });
  }
  forgetLocally(`${registry.address}/${remote}`);
}

/** Removes the local tag `ref` (the image stays under its other tags): the next start must pull it. */
export function forgetLocally(ref: string): void {
  try {
    execFileSync('docker', ['rmi', '--force', ref], { stdio: 'pipe', env: { ...process.env, DOCKER_HOST: serviceEnv().dockerHost } });
  } catch (err) {
    if (!/No such image/i.test(String((err as { stderr?: Buffer }).stderr ?? ''))) throw err;
  }
}
