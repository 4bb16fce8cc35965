/**
 * A config change reaches hosts batch by batch, like a version: three real gantryd agents run v1
 * as set by `gantry set-version` (which names the config generation); `gantry config set` adds an
 * environment variable and no container restarts — every host says the change is pending — then
 * `gantry deploy --config --batch 1` rolls it one host at a time under load, losing no request.
 */
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import Docker from 'dockerode';
import { PrefixWatcher } from '@gantry/etcd';
import { componentConfigHash, componentStatusSchema, projectConfigSchema, type ComponentStatus } from '@gantry/spec';
import { ensureDemoImages, loadTotals, serviceEnv, startLoad, waitFor } from '@gantry/testkit';
import { runGantry, runGantryAsync } from '../support/cli';
import { demoConfig } from '../support/demo-config';
import { Fleet, FLEET_PORT, keys } from '../support/fleet';

const etcdArgs = () => ['--etcd', serviceEnv().etcdEndpoints.join(',')];
const gantry = (...args: string[]) => runGantry([...args, ...etcdArgs()], 120_000);

beforeAll(() => ensureDemoImages(), 600_000);

describe('a config change rolls out batch by batch', () => {
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = new Fleet(serviceEnv().etcdEndpoints, 'config-roll');
    await fleet.start(3, { drainTimeout: 3_000 });
    const set = gantry('set-version', 'web', 'v1', '--all', '--project', fleet.project);
    expect({ status: set.status, stderr: set.stderr }).toMatchObject({ status: 0 });
    await fleet.converged('v1');
  }, 180_000);
  afterAll(() => fleet?.cleanup(), 120_000);

  it('holds a stored config change on every host until gantry deploy --config rolls it, one host at a time, 0 failed requests', async () => {
    const before = demoConfig(FLEET_PORT, { drainTimeout: 3_000 });
    const oldHash = componentConfigHash(before.components[0]);
    const fleetKey = JSON.parse((await fleet.etcd.get(keys.fleetDesired(fleet.project, 'web')).string())!);
    expect(fleetKey).toMatchObject({ version: 'v1', configHash: oldHash });
    const containersBefore = await Promise.all(fleet.agents.map(async (_, i) => (await fleet.containers(i)).map((c) => c.id)));

    // The change: one more environment variable.
    const after = projectConfigSchema.parse({ components: [{ ...before.components[0], environmentVariables: [{ name: 'GREETING', value: 'hello' }] }] });
    const newHash = componentConfigHash(after.components[0]);
    const file = join(fleet.stateDir, 'config.json');
    writeFileSync(file, JSON.stringify(after));
    const set = gantry('config', 'set', file, '--project', fleet.project);
    expect({ status: set.status, stderr: set.stderr }).toMatchObject({ status: 0 });

    await Promise.all(
      fleet.agents.map((a, i) => waitFor(async () => (await fleet.status(i))?.configPending === true, { what: `${a.spec.hostId} to hold the change as pending\n${a.tail()}` })),
    );
    expect(await Promise.all(fleet.agents.map(async (_, i) => (await fleet.containers(i)).map((c) => c.id)))).toEqual(containersBefore);

    // Roll it: at most one host moving at any moment.
    const statuses = new Map<string, ComponentStatus>();
    let maxMoving = 0;
    const watcher = new PrefixWatcher({
      client: fleet.etcd,
      prefix: keys.hostsPrefix(fleet.project),
      onSnapshot: () => undefined,
      onChange: (c) => {
        const ref = keys.parse(c.key);
        if (ref?.kind !== 'status' || c.type !== 'put') return;
        statuses.set(ref.host, componentStatusSchema.parse(JSON.parse(c.value)));
        const moving = [...statuses.entries()].filter(([, s]) => s.phase !== 'running' || s.targetVersion !== undefined);
        if (moving.length > maxMoving) console.log(`moving at once: ${moving.map(([h, s]) => `${h} ${s.phase} ${s.version}→${s.targetVersion} ${s.configHash}`).join('; ')}`);
        maxMoving = Math.max(maxMoving, moving.length);
      },
    });
    await watcher.start();
    const loads = fleet.agents.map((_, i) => startLoad({ url: fleet.url(i), connections: 2, rate: 40 }));
    await waitFor(() => loads.every((l) => l.snapshot().ok > 10), { what: 'load to flow' });
    const t0 = Date.now();
    const deploy = await runGantryAsync(['deploy', fleet.project, 'web', '--config', '--batch', '1', '--json', ...etcdArgs()]);
    const rolledMs = Date.now() - t0;
    const reports = await Promise.all(loads.map((l) => l.stop()));
    await watcher.stop();
    const { sent, failed, samples } = loadTotals(reports);
    console.log(`config rollout: 3 hosts, batch 1, in ${rolledMs} ms; at most ${maxMoving} host(s) moving at once; requests sent ${sent}, failed ${failed}`);

    expect({ status: deploy.status, stderr: deploy.stderr }).toMatchObject({ status: 0 });
    expect(JSON.parse(deploy.stdout.trim().split('\n')[0])).toMatchObject({ toVersion: 'v1', configHash: newHash });
    expect({ failed, samples }).toEqual({ failed: 0, samples: [] });
    expect(maxMoving).toBe(1);
    const docker = new Docker({ socketPath: serviceEnv().dockerHost.replace(/^unix:\/\//, '') });
    for (const [i, agent] of fleet.agents.entries()) {
      const status = await fleet.status(i);
      expect({ host: agent.spec.hostId, configHash: status?.configHash, pending: status?.configPending ?? false }).toEqual({ host: agent.spec.hostId, configHash: newHash, pending: false });
      const [container] = await fleet.containers(i);
      expect(containersBefore[i]).not.toContain(container.id);
      expect((await docker.getContainer(container.id).inspect()).Config.Env).toContain('GREETING=hello');
    }
    expect(JSON.parse((await fleet.etcd.get(keys.fleetDesired(fleet.project, 'web')).string())!)).toMatchObject({ version: 'v1', configHash: newHash });
  }, 240_000);
});
