import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectEtcd, resolveConnectionOptions } from '@gantry/etcd';
import { repoRoot, serviceEnv } from '@gantry/testkit';
import type { Etcd3 } from 'etcd3';
import { defaultUserName } from '@gantry/spec';

/** etcd-secure as `scripts/services.sh up etcd-secure` writes it into env.json. */
export interface SecureEtcd {
  endpoints: string[];
  ca: string;
  rootCert: string;
  rootKey: string;
  rootPasswordFile: string;
  /** A certificate for password users (etcd requires one of every client; the password's user wins over its CN). */
  clientCert: string;
  clientKey: string;
}

const services = (...args: string[]) => execFileSync('bash', [join(repoRoot(), 'scripts/services.sh'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** The TLS + auth etcd, started when it is not up (idempotent). */
export function secureEtcd(): SecureEtcd {
  services('up', 'etcd-secure');
  const secure = (serviceEnv() as unknown as { etcdSecure?: SecureEtcd }).etcdSecure;
  if (!secure) throw new Error('env.json has no etcdSecure entry after `scripts/services.sh up etcd-secure`');
  return secure;
}

/** A client certificate with CN = `user`, from etcd-secure's CA, in `dir`. */
export function clientCertificate(user: string, dir: string): { cert: string; key: string } {
  const out = JSON.parse(services('cert', user, dir).trim().split('\n').pop()!) as { cert: string; key: string };
  return { cert: out.cert, key: out.key };
}

/** `--etcd ENDPOINTS` and the flags of `credentials` (a gantryd of AgentProcess gets --etcd already: give it the credentials alone). */
export function cliFlags(secure: SecureEtcd, credentials: string[]): string[] {
  return ['--etcd', secure.endpoints.join(','), ...credentials];
}

/** The etcd credential flags of a client authenticating with a certificate whose CN is its user. */
export function certificateFlags(secure: SecureEtcd, cert: { cert: string; key: string }): string[] {
  return ['--etcd-ca', secure.ca, '--etcd-cert', cert.cert, '--etcd-key', cert.key];
}

/** The etcd credential flags of a password user: the password in an --etcd-config file (mode 600), never on the command line. */
export function passwordFlags(secure: SecureEtcd, user: string, password: string, configFile: string): string[] {
  writePasswordConfig(configFile, user, password);
  return ['--etcd-ca', secure.ca, '--etcd-cert', secure.clientCert, '--etcd-key', secure.clientKey, '--etcd-config', configFile];
}

export function writePasswordConfig(configFile: string, user: string, password: string): void {
  writeFileSync(configFile, JSON.stringify({ user, password }));
  chmodSync(configFile, 0o600);
}

/** A client connected as root (by certificate). The caller closes it. */
export function rootClient(secure: SecureEtcd): Etcd3 {
  return certificateClient(secure, { cert: secure.rootCert, key: secure.rootKey });
}

/** A client as the certificate's user. The caller closes it. */
export function certificateClient(secure: SecureEtcd, cert: { cert: string; key: string }): Etcd3 {
  return connectEtcd(resolveConnectionOptions({ flags: { 'etcd-endpoints': secure.endpoints.join(','), 'etcd-ca': secure.ca, 'etcd-cert': cert.cert, 'etcd-key': cert.key }, env: {} }));
}

/** The etcd flags of root (by certificate), for the CLI. */
export function rootFlags(secure: SecureEtcd): string[] {
  return cliFlags(secure, certificateFlags(secure, { cert: secure.rootCert, key: secure.rootKey }));
}

/** `gantry access ARGS` as root, as an etcd admin runs it; throws with its output unless it exits 0. Returns its stdout. */
export function gantryAccessAsRoot(secure: SecureEtcd, ...args: string[]): string {
  const r = spawnSync(process.execPath, [join(repoRoot(), 'packages/cli/bin/gantry.js'), 'access', ...args, ...rootFlags(secure)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gantry access ${args.join(' ')}: exit ${r.status}\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Whether the fleet and rollout integration tests run on etcd-secure with least-privilege users (`GANTRY_TEST_ETCD=secure`). */
export const onSecureEtcd = (): boolean => process.env.GANTRY_TEST_ETCD === 'secure';

/** What a fleet on etcd-secure runs with: root for the test's own reads, a user per host and coordinator, an operator for the CLI. */
export interface LeastPrivilege {
  secure: SecureEtcd;
  root: Etcd3;
  /** Credential flags of host `host`'s gantryd (a certificate with CN = its user). */
  hostArgs: (host: string) => string[];
  /** Credential flags of coordinator `name`'s gantryd. */
  coordinatorArgs: (name: string) => string[];
  /** `--etcd ENDPOINTS` and the operator's credentials (a password user), for the CLI. */
  operatorArgs: string[];
}

/**
 * Roles and users for `project`, made by `gantry access` as an etcd admin would (root, by
 * certificate), with certificates for each host and coordinator issued on first use.
 */
export function leastPrivilege(project: string, dir: string): LeastPrivilege {
  const secure = secureEtcd();
  const access = (...args: string[]) => void gantryAccessAsRoot(secure, ...args);
  access('init', project);
  writeFileSync(join(dir, 'operator.password'), 'operator-password\n');
  access('add-operator', project, 'ops', '--password-file', join(dir, 'operator.password'));
  const certified = (kind: 'host' | 'coordinator', name: string) => {
    access(`add-${kind}`, project, name, '--cert-only');
    return certificateFlags(secure, clientCertificate(defaultUserName(project, kind, name), join(dir, 'certs')));
  };
  return {
    secure,
    root: rootClient(secure),
    hostArgs: (host) => certified('host', host),
    coordinatorArgs: (name) => certified('coordinator', name),
    operatorArgs: cliFlags(secure, passwordFlags(secure, defaultUserName(project, 'operator', 'ops'), 'operator-password', join(dir, 'operator-etcd.json'))),
  };
}
