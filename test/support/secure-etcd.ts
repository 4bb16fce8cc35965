import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectEtcd, resolveConnectionOptions } from '@gantry/etcd';
import { repoRoot, serviceEnv } from '@gantry/testkit';
import type { Etcd3 } from 'etcd3';

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
  return connectEtcd(resolveConnectionOptions({ flags: { 'etcd-endpoints': secure.endpoints.join(','), 'etcd-ca': secure.ca, 'etcd-cert': secure.rootCert, 'etcd-key': secure.rootKey }, env: {} }));
}

/** A client as the certificate's user. The caller closes it. */
export function certificateClient(secure: SecureEtcd, cert: { cert: string; key: string }): Etcd3 {
  return connectEtcd(resolveConnectionOptions({ flags: { 'etcd-endpoints': secure.endpoints.join(','), 'etcd-ca': secure.ca, 'etcd-cert': cert.cert, 'etcd-key': cert.key }, env: {} }));
}
