/**
 * The host policy and host-side secrets, on real gantryd agents, Docker, HAProxy and etcd:
 * - with the default policy (no policy file), a config binding the Docker socket, and one asking
 *   for a privileged container, are never started: status names the field and the rule, v1 keeps
 *   serving under load, and a rollout to the refused config fails on that host at once;
 * - `valueFrom: { file }` puts a file's content into the container's environment and nowhere
 *   else (no etcd key, no log line); a file outside the policy's secret directories is refused, a
 *   missing one is an error naming the variable and the path; SIGHUP re-reads the policy;
 * - `gantry config get` prints `***` for values marked `secret: true`;
 * - a policy file that is invalid stops gantryd with exit 2, naming the file and the field.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import type { ComponentInput } from '@gantry/spec';
import { ensureDemoImages, httpGet, loadTotals, serviceEnv, startLoad, waitFor } from '@gantry/testkit';
import { AgentProcess } from '../support/agent-process';
import { lastJson, runGantry, runGantryAsync } from '../support/cli';
import { demoConfig } from '../support/demo-config';
import { Fleet, FLEET_PORT, keys } from '../support/fleet';

const etcdArgs = () => ['--etcd', serviceEnv().etcdEndpoints.join(',')];
const gantry = (...args: string[]) => runGantry([...args, ...etcdArgs()], 120_000);
const base: Partial<ComponentInput> = { drainTimeout: 3_000 };

beforeAll(() => ensureDemoImages(), 600_000);

describe('the default host policy (no policy file)', () => {
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = new Fleet(serviceEnv().etcdEndpoints, 'policy');
    await fleet.start(2, base);
    const set = gantry('set-version', 'web', 'v1', '--all', '--project', fleet.project);
    expect({ status: set.status, stderr: set.stderr }).toMatchObject({ status: 0 });
    await fleet.converged('v1');
  }, 180_000);
  afterAll(() => fleet?.cleanup(), 120_000);

  const storeConfig = (overrides: Partial<ComponentInput>) => {
    const file = join(fleet.stateDir, 'config.json');
    writeFileSync(file, JSON.stringify(demoConfig(FLEET_PORT, { ...base, ...overrides })));
    const set = gantry('config', 'set', file, '--project', fleet.project);
    expect({ status: set.status, stderr: set.stderr }).toMatchObject({ status: 0 });
  };

  it('never starts a bind of the Docker socket or a privileged container; v1 keeps serving; a rollout to it fails on the first host at once', async () => {
    const containersBefore = await Promise.all(fleet.agents.map(async (_, i) => (await fleet.containers(i)).map((c) => c.id)));
    const loads = fleet.agents.map((_, i) => startLoad({ url: fleet.url(i), connections: 2, rate: 40 }));
    try {
      await refuseUnderLoad(loads, containersBefore);
    } finally {
      await Promise.all(loads.map((l) => l.stop()));
    }
  });

  async function refuseUnderLoad(loads: ReturnType<typeof startLoad>[], containersBefore: string[][]): Promise<void> {
    await waitFor(() => loads.every((l) => l.snapshot().ok > 10), { what: 'load to flow' });

    // The Docker socket, rolled out with the config: the first host refuses it, and the rollout fails there.
    storeConfig({ bindings: [{ external: '/srv/gantry-policy-test', volume: '/data', readOnly: true }, { external: '/var/run/docker.sock', volume: '/var/run/docker.sock' }] });
    await Promise.all(fleet.agents.map((a, i) => waitFor(async () => (await fleet.status(i))?.configPending === true, { what: `${a.spec.hostId} to hold the change as pending\n${a.tail()}` })));
    const t0 = Date.now();
    const deploy = await runGantryAsync(['deploy', fleet.project, 'web', '--config', '--batch', '1', '--json', ...etcdArgs()]);
    const tookMs = Date.now() - t0;
    expect(deploy.status).toBe(1);
    const result = lastJson(deploy.stdout);
    expect(result).toMatchObject({ event: 'result', state: 'failed', ok: false });
    // The failure is the host's own report, not the 600 s progress deadline.
    expect(tookMs).toBeLessThan(60_000);
    const failedHost = fleet.agents.findIndex((a) => deploy.stdout.includes(`${a.spec.hostId}: refused by this host's policy`));
    expect(failedHost).toBeGreaterThanOrEqual(0);
    expect(deploy.stdout).toContain('components[0].bindings[1].external: /var/run/docker.sock');
    const refused = (await fleet.status(failedHost))!;
    expect(refused.phase).toBe('failed');
    expect(refused.lastError?.reason).toMatch(
      /^refused by this host's policy \(the default policy \(no \/etc\/gantry\/policy\.json\)\): components\[0\]\.bindings\[1\]\.external: \/var\/run\/docker\.sock .*is not allowed by this host's policy \(.*Docker socket/,
    );
    expect(refused.lastError?.reason).not.toMatch(/bindings\[0\]/); // the allowed read-only bind is not a violation

    // Privileged, set for the whole fleet: every host refuses it.
    storeConfig({ privileged: true });
    const set = gantry('set-version', 'web', 'v1', '--all', '--project', fleet.project);
    expect({ status: set.status, stderr: set.stderr }).toMatchObject({ status: 0 });
    await Promise.all(
      fleet.agents.map((a, i) =>
        waitFor(
          async () => {
            const s = await fleet.status(i);
            return s?.phase === 'failed' && /components\[0\]\.privileged: privileged containers are not allowed by this host's policy/.test(s.lastError?.reason ?? '');
          },
          { what: `${a.spec.hostId} to refuse privileged\n${a.tail()}` },
        ),
      ),
    );

    // Nothing was started on any host; v1 served every request throughout.
    expect(await Promise.all(fleet.agents.map(async (_, i) => (await fleet.containers(i)).map((c) => c.id)))).toEqual(containersBefore);
    for (let i = 0; i < fleet.agents.length; i++) expect((await httpGet(fleet.url(i))).version).toBe('v1');
    const { sent, failed, samples } = loadTotals(await Promise.all(loads.map((l) => l.stop())));
    console.log(`refused configs under load: requests sent ${sent}, failed ${failed}`);
    expect({ failed, samples }).toEqual({ failed: 0, samples: [] });
    expect(sent).toBeGreaterThan(50);
  }
});

describe('secrets from the host', () => {
  let fleet: Fleet;
  let dir: string;
  let secretDir: string;
  let otherDir: string;
  let policyFile: string;
  const secret = `pw-${Math.random().toString(36).slice(2)}-host-only`;
  const token = `tok-${Math.random().toString(36).slice(2)}-in-etcd`;
  const withSecrets = (file: string): Partial<ComponentInput> => ({
    ...base,
    environmentVariables: [
      { name: 'DB_PASSWORD', valueFrom: { file } },
      { name: 'API_TOKEN', value: token, secret: true },
    ],
  });
  const putConfig = (overrides: Partial<ComponentInput>) => fleet.etcd.put(keys.config(fleet.project)).value(JSON.stringify(demoConfig(FLEET_PORT, overrides)));
  const docker = () => new Docker({ socketPath: serviceEnv().dockerHost.replace(/^unix:\/\//, '') });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gantry-secrets-'));
    secretDir = join(dir, 'secrets');
    otherDir = join(dir, 'elsewhere');
    mkdirSync(secretDir);
    mkdirSync(otherDir);
    writeFileSync(join(secretDir, 'db'), `${secret}\n`);
    writeFileSync(join(otherDir, 'db'), `${secret}\n`);
    policyFile = join(dir, 'policy.json');
    writeFileSync(policyFile, JSON.stringify({ secretFiles: [secretDir] }));
    fleet = new Fleet(serviceEnv().etcdEndpoints, 'secrets');
    await fleet.start(1, withSecrets(join(secretDir, 'db')), ['--policy', policyFile]);
    await fleet.setFleetVersion('v1');
    await fleet.converged('v1');
  }, 180_000);
  afterAll(async () => {
    await fleet?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('gives the container the file’s content, and writes it to no etcd key and no log line', async () => {
    const [container] = await fleet.containers(0);
    const env = (await docker().getContainer(container.id).inspect()).Config.Env;
    expect(env).toContain(`DB_PASSWORD=${secret}`);
    expect(env).toContain(`API_TOKEN=${token}`);

    const all = await fleet.etcd.getAll().prefix(keys.project(fleet.project)).strings();
    expect(Object.keys(all).length).toBeGreaterThan(2);
    expect(Object.entries(all).filter(([, value]) => value.includes(secret))).toEqual([]);
    expect(fleet.agents[0].logs.filter((line) => line.includes(secret))).toEqual([]);
  });

  it('gantry config get prints *** for secret: true values, --json too', () => {
    for (const json of [false, true]) {
      const res = gantry('config', 'get', '--project', fleet.project, ...(json ? ['--json'] : []));
      expect({ status: res.status, stderr: res.stderr }).toMatchObject({ status: 0 });
      expect(res.stdout).not.toContain(token);
      expect(res.stdout).toContain('***');
      if (json) expect(lastJson(res.stdout).config.components[0].environmentVariables[1]).toEqual({ name: 'API_TOKEN', value: '***', secret: true });
    }
  });

  it('refuses a file outside the secret directories, reports a missing one by name and path, keeps v1 serving; SIGHUP re-reads the policy', async () => {
    const [serving] = await fleet.containers(0);
    const outside = join(otherDir, 'db');
    await putConfig(withSecrets(outside));
    await waitFor(
      async () => {
        const s = await fleet.status(0);
        return s?.phase === 'failed' && s.lastError?.reason.includes(`components[0].environmentVariables[0].valueFrom.file: ${outside} is not allowed by this host's policy (not under a secret files directory: ${secretDir})`);
      },
      { what: `the outside file refused\n${fleet.agents[0].tail()}` },
    );

    const missing = join(secretDir, 'absent');
    await putConfig(withSecrets(missing));
    await waitFor(
      async () => {
        const s = await fleet.status(0);
        return s?.phase === 'failed' && s.lastError?.reason.includes(`components[0].environmentVariables[0].valueFrom.file (DB_PASSWORD): cannot read ${missing}: ENOENT`);
      },
      { what: `the missing file reported\n${fleet.agents[0].tail()}` },
    );
    expect((await fleet.containers(0)).map((c) => c.id)).toEqual([serving.id]);
    expect((await httpGet(fleet.url(0))).version).toBe('v1');

    // The outside directory allowed, and the policy re-read: the refused config now runs.
    await putConfig(withSecrets(outside));
    await waitFor(async () => /not under a secret files directory/.test((await fleet.status(0))?.lastError?.reason ?? ''), { what: 'refused again' });
    writeFileSync(policyFile, JSON.stringify({ secretFiles: [secretDir, otherDir] }));
    process.kill(fleet.agents[0].pid!, 'SIGHUP');
    await waitFor(
      async () => {
        const [now] = await fleet.containers(0);
        const s = await fleet.status(0);
        return now && now.id !== serving.id && s?.phase === 'running' && s.lastError === undefined;
      },
      { what: `the config to run once the policy allows it\n${fleet.agents[0].tail()}`, timeoutMs: 60_000 },
    );
    expect(fleet.agents[0].logs.some((l) => l.includes('host policy reloaded'))).toBe(true);
    expect(fleet.agents[0].logs.filter((line) => line.includes(secret))).toEqual([]);
  });
});

describe('a policy file gantryd cannot use', () => {
  it('stops gantryd with exit 2, naming the file and the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gantry-bad-policy-'));
    try {
      const file = join(dir, 'policy.json');
      writeFileSync(file, JSON.stringify({ bindings: [{ path: 'srv' }] }));
      const agent = new AgentProcess({ hostId: 'h1', project: 'bad-policy', bindAddress: '127.0.1.250', stateDir: dir, etcd: serviceEnv().etcdEndpoints, extraArgs: ['--policy', file] }).start();
      expect(await agent.exited()).toBe(2);
      expect(agent.logs.join('\n')).toContain(`gantryd: the host policy ${file} is invalid:\n  - bindings[0].path: must be an absolute path`);

      const named = new AgentProcess({ hostId: 'h1', project: 'bad-policy', bindAddress: '127.0.1.250', stateDir: dir, etcd: serviceEnv().etcdEndpoints, extraArgs: ['--policy', join(dir, 'absent.json')] }).start();
      expect(await named.exited()).toBe(2);
      expect(named.logs.join('\n')).toContain(`cannot read the host policy ${join(dir, 'absent.json')}: ENOENT`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
