/**
 * Least privilege on the real parts: etcd over TLS with client certificates and auth
 * (`services.sh up etcd-secure`), users and roles made by `gantry access`, two hosts whose agents
 * have host credentials only, a coordinator of its own (`gantryd --coordinator only`) with
 * coordinator credentials, and an operator with a password. etcd itself says no to what a role
 * does not grant.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdAccessDeniedError } from '@gantry/etcd';
import { ensureDemoImages, loadTotals, startLoad, waitFor } from '@gantry/testkit';
import { defaultUserName } from '@gantry/spec';
import type { Etcd3 } from 'etcd3';
import { AgentProcess } from '../support/agent-process';
import { runGantry, runGantryAsync, lastJson } from '../support/cli';
import { Fleet, keys } from '../support/fleet';
import { certificateClient, certificateFlags, cliFlags, gantryAccessAsRoot, rootFlags as rootFlagsOf, clientCertificate, passwordFlags, rootClient, secureEtcd, writePasswordConfig, type SecureEtcd } from '../support/secure-etcd';

beforeAll(() => ensureDemoImages(), 600_000);

describe('etcd with TLS, client certificates and per-role users', () => {
  let secure: SecureEtcd;
  let root: Etcd3;
  let fleet: Fleet;
  let dir: string;
  let rootFlags: string[];
  let operatorFlags: string[];
  let h1Cert: { cert: string; key: string };
  let h2Config: string;
  let coordinator: AgentProcess;
  const users = (project: string) => ({
    h1: defaultUserName(project, 'host', 'h1'),
    h2: defaultUserName(project, 'host', 'h2'),
    operator: defaultUserName(project, 'operator', 'alice'),
    coordinator: defaultUserName(project, 'coordinator', 'ctl'),
  });

  beforeAll(async () => {
    secure = secureEtcd();
    root = rootClient(secure);
    dir = mkdtempSync(join(tmpdir(), 'gantry-secure-'));
    h2Config = join(dir, 'h2-etcd.json');
    fleet = new Fleet(secure.endpoints, 'secure', {
      client: root,
      // h1 authenticates by certificate (CN = its user), h2 by password (in its --etcd-config file).
      hostArgs: (host) => (host === 'h1' ? certificateFlags(secure, h1Cert) : passwordFlags(secure, users(fleet.project).h2, 'h2-first-password', h2Config)),
    });
    const u = users(fleet.project);
    rootFlags = rootFlagsOf(secure);
    writeFileSync(join(dir, 'alice.password'), 'alice-password\n');
    writeFileSync(join(dir, 'h2.password'), 'h2-first-password\n');
    const access = (...args: string[]) => gantryAccessAsRoot(secure, ...args);
    access('init', fleet.project);
    access('add-host', fleet.project, 'h1', '--cert-only');
    access('add-host', fleet.project, 'h2', '--password-file', join(dir, 'h2.password'));
    access('add-operator', fleet.project, 'alice', '--password-file', join(dir, 'alice.password'));
    access('add-coordinator', fleet.project, 'ctl', '--cert-only');
    h1Cert = clientCertificate(u.h1, join(dir, 'certs'));
    operatorFlags = cliFlags(secure, passwordFlags(secure, u.operator, 'alice-password', join(dir, 'alice-etcd.json')));
  }, 120_000);

  afterAll(async () => {
    await coordinator?.kill();
    await fleet?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('`gantry access list` shows each role, its key ranges and its user', () => {
    const r = runGantry(['access', 'list', fleet.project, '--json', ...rootFlags]);
    expect(r.status).toBe(0);
    const u = users(fleet.project);
    const roles = lastJson(r.stdout).roles as Array<{ role: string; users: string[]; grants: Array<{ permission: string; range: string }> }>;
    const byRole = Object.fromEntries(roles.map((role) => [role.role, role]));
    expect(Object.keys(byRole).sort()).toEqual([`gantry/${fleet.project}/coordinator`, `gantry/${fleet.project}/host/h1`, `gantry/${fleet.project}/host/h2`, `gantry/${fleet.project}/operator`]);
    expect(byRole[`gantry/${fleet.project}/host/h1`]!.users).toEqual([u.h1]);
    const host = keys.host(fleet.project, 'h1');
    expect(byRole[`gantry/${fleet.project}/host/h1`]!.grants.filter((g) => g.permission !== 'Read').map((g) => g.range).sort()).toEqual([`${host}agent`, `${host}registration`, `${host}status/*`]);
  });

  it("host h1's credentials cannot write host h2's keys, the config or a desired version: etcd refuses, naming the key and the user", async () => {
    const h1 = certificateClient(secure, h1Cert);
    const u = users(fleet.project);
    try {
      for (const key of [keys.status(fleet.project, 'h2', 'web'), keys.registration(fleet.project, 'h2'), keys.config(fleet.project), keys.fleetDesired(fleet.project, 'web'), keys.hostDesired(fleet.project, 'h1', 'web')]) {
        const err = await h1.put(key).value('{}').then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(EtcdAccessDeniedError);
        expect((err as Error).message).toBe(`permission denied: etcd user "${u.h1}" (certificate CN) may not write ${key}`);
        expect(await root.get(key).string()).toBeNull();
      }
      // What is its own it may write.
      await h1.put(keys.status(fleet.project, 'h1', 'probe')).value('{}');
      await h1.delete().key(keys.status(fleet.project, 'h1', 'probe'));
      // Nor read what is not its host's.
      const read = await h1.get(keys.status(fleet.project, 'h2', 'web')).string().then(() => undefined, (e: unknown) => e);
      expect((read as Error).message).toBe(`permission denied: etcd user "${u.h1}" (certificate CN) may not read ${keys.status(fleet.project, 'h2', 'web')}`);
    } finally {
      h1.close();
    }
    // The CLI with those credentials: exit 4, the key and the user named, nothing written.
    const status = runGantry(['status', '--project', fleet.project, ...cliFlags(secure, certificateFlags(secure, h1Cert))]);
    expect(status.stderr).toContain(`permission denied: etcd user "${u.h1}" (certificate CN) may not read ${keys.hostsPrefix(fleet.project)}*`);
    expect(status.status).toBe(4);
    // gantryd for host h2 with h1's credentials: refused at its registration, exit 5, nothing started.
    const wrongHost = new AgentProcess({ hostId: 'h2', project: fleet.project, bindAddress: '127.0.0.1', stateDir: fleet.stateDir, etcd: secure.endpoints, extraArgs: certificateFlags(secure, h1Cert) }).start();
    expect(await wrongHost.exited()).toBe(5);
    expect(wrongHost.logs.join('\n')).toContain(`gantryd: permission denied: etcd user "${u.h1}" (certificate CN) may not write ${keys.registration(fleet.project, 'h2')}`);
    // An operator is no etcd admin: it cannot make users.
    const add = runGantry(['access', 'add-host', fleet.project, 'h9', '--cert-only', ...operatorFlags]);
    expect(add.status).toBe(4);
    expect(add.stderr).toContain(`permission denied: etcd user "${u.operator}"`);
  });

  it('a full rollout runs with operator, coordinator and host credentials only, over TLS, losing no request', async () => {
    const u = users(fleet.project);
    await fleet.start(2);
    const ctlCert = clientCertificate(u.coordinator, join(dir, 'certs'));
    coordinator = new AgentProcess({ hostId: 'ctl', project: fleet.project, bindAddress: '127.0.0.1', stateDir: fleet.stateDir, etcd: secure.endpoints, extraArgs: ['--coordinator', 'only', ...certificateFlags(secure, ctlCert)] }).start();

    const v1 = runGantry(['set-version', 'web', 'v1', '--all', '--project', fleet.project, ...operatorFlags]);
    expect(v1.stderr).toBe('');
    expect(v1.status).toBe(0);
    await fleet.converged('v1');
    // Host credentials: the agents know they may not coordinate, and say so once.
    for (const agent of fleet.agents) expect(agent.logs.some((l) => l.includes('not a coordinator candidate'))).toBe(true);
    await waitFor(async () => (await fleet.coordinator()) === 'ctl', { timeoutMs: 20_000, what: `ctl to coordinate\n${coordinator.tail(10)}` });

    const loads = fleet.agents.map((_, i) => startLoad({ url: fleet.url(i), connections: 2, rate: 50 }));
    await waitFor(() => loads.every((l) => l.snapshot().ok > 10), { what: 'load to flow' });
    const started = Date.now();
    const deploy = await runGantryAsync(['deploy', fleet.project, 'web', '--tag', 'v2', '--batch', '1', '--json', ...operatorFlags]);
    const rolloutMs = Date.now() - started;
    await fleet.converged('v2');
    const totals = loadTotals(await Promise.all(loads.map((l) => l.stop())));
    console.log(`secure rollout to v2: ${JSON.stringify({ rolloutMs, sent: totals.sent, failed: totals.failed })}`);
    expect(deploy.status).toBe(0);
    expect(lastJson(deploy.stdout).state).toBe('succeeded');
    expect(totals.failed).toBe(0);
    // No agent or coordinator met a refusal on the way (but the one answer to "may I coordinate?").
    for (const p of [...fleet.agents, coordinator]) expect(p.logs.filter((l) => /permission denied|authentication failed/.test(l) && !l.includes('not a coordinator candidate'))).toEqual([]);
  }, 240_000);

  it("SIGHUP re-reads the etcd password: h2's rotated password takes effect without a restart", async () => {
    const u = users(fleet.project);
    const h2 = fleet.agents[1]!;
    const agentKey = keys.agent(fleet.project, 'h2');
    await waitFor(async () => (await root.get(agentKey).string()) !== null, { timeoutMs: 20_000, what: `${agentKey} written` });

    // The password changes in etcd: h2's session is refused from then on.
    writeFileSync(join(dir, 'h2.password'), 'h2-second-password\n');
    expect(runGantry(['access', 'add-host', fleet.project, 'h2', '--password-file', join(dir, 'h2.password'), ...rootFlags]).status).toBe(0);
    // Its agent record goes: the agent writes it back (a record only it writes), if etcd lets it.
    await root.delete().key(agentKey);
    await waitFor(() => h2.logs.some((l) => l.includes('authentication failed') && l.includes(u.h2)), { timeoutMs: 30_000, what: `h2 refused for its old password\n${h2.tail(10)}` });
    expect(await root.get(agentKey).string()).toBeNull();
    expect(h2.running).toBe(true);

    // The new password in its config file, then SIGHUP.
    writePasswordConfig(h2Config, u.h2, 'h2-second-password');
    const hup = Date.now();
    process.kill(h2.pid!, 'SIGHUP');
    await waitFor(async () => (await root.get(agentKey).string()) !== null, { timeoutMs: 30_000, intervalMs: 100, what: `${agentKey} written again after SIGHUP\n${h2.tail(10)}` });
    console.log(`password rotation: agent record written again ${Date.now() - hup} ms after SIGHUP`);
    expect(h2.logs.some((l) => l.includes('etcd credentials re-read'))).toBe(true);
    // And it still follows etcd: a new version reaches it.
    expect(runGantry(['set-version', 'web', 'v1', '--host', 'h2', '--project', fleet.project, ...operatorFlags]).status).toBe(0);
    await fleet.converged('v1', 90_000, [1]);
  }, 180_000);
});
