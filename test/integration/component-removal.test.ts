/**
 * A component removed from the config is drained and removed on every host, its frontend and its
 * status key go, and the other component serves on untouched. Removed while an agent was down, its
 * containers are removed when the agent comes back (level-triggered).
 */
import { connect } from 'node:net';
import { projectConfigSchema } from '@gantry/spec';
import { ensureDemoImages, loadTotals, serviceEnv, startLoad, waitFor } from '@gantry/testkit';
import { demoConfig } from '../support/demo-config';
import { Fleet, FLEET_PORT, keys } from '../support/fleet';

const API_PORT = 81;

const twoComponents = () =>
  projectConfigSchema.parse({ components: [demoConfig(FLEET_PORT).components[0], { ...demoConfig(API_PORT, { drainTimeout: 3_000 }).components[0], name: 'api' }] });
const webOnly = () => projectConfigSchema.parse({ components: [demoConfig(FLEET_PORT).components[0]] });

/** Whether something accepts TCP connections at address:port. */
const listening = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host, port, timeout: 1000 });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });

beforeAll(() => ensureDemoImages(), 600_000);

describe('a component removed from the config', () => {
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = new Fleet(serviceEnv().etcdEndpoints, 'removal');
    await fleet.start(2);
    await fleet.etcd.put(keys.config(fleet.project)).value(JSON.stringify(twoComponents()));
    await fleet.setFleetVersion('v1');
    await fleet.etcd.put(keys.fleetDesired(fleet.project, 'api')).value(JSON.stringify({ version: 'v1' }));
    await fleet.converged('v1');
    await waitFor(async () => (await Promise.all([0, 1].map((i) => fleet.containers(i)))).every((cs) => cs.filter((c) => c.component === 'api').length === 1), {
      what: 'api to run on both hosts',
    });
  }, 180_000);
  afterAll(() => fleet?.cleanup(), 120_000);

  it('is drained and removed on every host, its frontend and status go, the other component serves on with 0 failed requests', async () => {
    const loads = [0, 1].map((i) => startLoad({ url: fleet.url(i), connections: 2, rate: 40 }));
    await waitFor(() => loads.every((l) => l.snapshot().ok > 10), { what: 'load to flow' });
    const t0 = Date.now();
    await fleet.etcd.put(keys.config(fleet.project)).value(JSON.stringify(webOnly()));
    for (const i of [0, 1]) {
      const host = fleet.agents[i].spec.hostId;
      await waitFor(async () => (await fleet.containers(i)).every((c) => c.component !== 'api'), { what: `api's containers gone on ${host}\n${fleet.agents[i].tail()}` });
      await waitFor(async () => (await fleet.etcd.get(keys.status(fleet.project, host, 'api')).string()) === null, { what: `api's status key gone on ${host}` });
      await waitFor(async () => !(await listening(fleet.agents[i].spec.bindAddress, API_PORT)), { what: `api's frontend gone on ${host}` });
    }
    const removedMs = Date.now() - t0;
    const reports = await Promise.all(loads.map((l) => l.stop()));
    const { sent, failed, samples } = loadTotals(reports);
    console.log(`component removal: api gone from 2 hosts in ${removedMs} ms; web requests sent ${sent}, failed ${failed}`);
    expect({ failed, samples }).toEqual({ failed: 0, samples: [] });
    for (const i of [0, 1]) expect((await fleet.containers(i)).map((c) => c.component)).toEqual(['web']);
    expect(fleet.agents.every((a) => a.running)).toBe(true);
  }, 120_000);

  it('removed while an agent was down: its containers go when the agent comes back', async () => {
    await fleet.etcd.put(keys.config(fleet.project)).value(JSON.stringify(twoComponents()));
    await waitFor(async () => (await Promise.all([0, 1].map((i) => fleet.containers(i)))).every((cs) => cs.some((c) => c.component === 'api' && c.state === 'running')), {
      what: 'api back on both hosts',
    });
    const h2 = fleet.agents[1];
    await h2.kill('SIGKILL');
    await fleet.etcd.put(keys.config(fleet.project)).value(JSON.stringify(webOnly()));
    await waitFor(async () => (await fleet.containers(0)).every((c) => c.component !== 'api'), { what: 'api gone on the live host' });
    expect((await fleet.containers(1)).some((c) => c.component === 'api')).toBe(true); // nobody acted for the dead agent
    await waitFor(async () => (await fleet.etcd.get(keys.registration(fleet.project, h2.spec.hostId)).string()) === null, { what: 'the dead agent’s registration to expire' });
    h2.start();
    await waitFor(async () => (await fleet.containers(1)).every((c) => c.component !== 'api'), { what: `api's leftover containers removed by the restarted agent\n${h2.tail()}` });
    await waitFor(async () => !(await listening(h2.spec.bindAddress, API_PORT)), { what: "api's frontend gone on the restarted host" });
    await fleet.converged('v1', 30_000, [1]);
  }, 120_000);
});
