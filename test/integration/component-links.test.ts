/**
 * Gantryd's component links on a real gantryd (one host, its HAProxy, the shared dockerd, etcd):
 * `api` defines link "api" (no port of its own is served outside), `web` requires it as alias UP
 * and serves /via/up/, which fetches through the link from inside web's container. The requiring
 * component fails by name while the defining one does not serve; it starts once it does; an update
 * of `api` under traffic through the link (from inside web's container, and from the host to the
 * link address) fails no request; the link keeps its port across a gantryd restart.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDockerClient, discoverBridgeAddress } from '@gantry/agent';
import { componentStatusSchema, projectConfigSchema, type ComponentStatus } from '@gantry/spec';
import { ensureDemoImages, httpGet, loadTotals, serviceEnv, startLoad, waitFor } from '@gantry/testkit';
import { AgentProcess } from '../support/agent-process';
import { demoConfig } from '../support/demo-config';
import { Fleet, FLEET_PORT, keys } from '../support/fleet';
import { freeHostAddresses } from '../support/local-host';

beforeAll(() => ensureDemoImages(), 600_000);

describe('component links', () => {
  let fleet: Fleet;
  let linkAddress: string;
  const docker = createDockerClient(serviceEnv().dockerHost);

  const status = async (component: string): Promise<ComponentStatus | undefined> => {
    const text = await fleet.etcd.get(keys.status(fleet.project, 'h1', component)).string();
    return text === null ? undefined : componentStatusSchema.parse(JSON.parse(text));
  };
  const setVersion = (component: string, version: string) => fleet.etcd.put(keys.fleetDesired(fleet.project, component)).value(JSON.stringify({ version, setBy: 'test' }));
  const running = (component: string, version: string, timeoutMs = 90_000) =>
    waitFor(
      async () => {
        const s = await status(component);
        return s?.phase === 'running' && s.version === version && s.containers.length === 1 && s;
      },
      { timeoutMs, what: `${component} to run ${version}\n${fleet.agents[0]?.tail(15)}` },
    );
  /** The link's port on h1, as the agent recorded it in its state directory. */
  const linkPort = (): number => JSON.parse(readFileSync(join(fleet.stateDir, 'h1', 'component-links.json'), 'utf8')).ports[`${fleet.project}/api`];
  const containerEnv = async (component: string): Promise<Record<string, string>> => {
    const [c] = (await fleet.containers(0)).filter((x) => x.component === component);
    const info = await docker.getContainer(c.id).inspect();
    return Object.fromEntries(info.Config.Env.filter((e) => e.startsWith('UP_')).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  };

  beforeAll(async () => {
    fleet = Fleet.onServices('links');
    const base = demoConfig(FLEET_PORT).components[0];
    const config = projectConfigSchema.parse({
      components: [
        { ...base, name: 'api', ports: [], defineComponentLinks: [{ name: 'api', port: 8080, kind: 'http' }] },
        { ...base, name: 'web', requireComponentLinks: [{ name: 'api', alias: 'up' }] },
      ],
    });
    await fleet.etcd.put(keys.config(fleet.project)).value(JSON.stringify(config));
    const [bindAddress] = await freeHostAddresses(1, FLEET_PORT);
    fleet.agents = [new AgentProcess({ hostId: 'h1', project: fleet.project, bindAddress, stateDir: fleet.stateDir, etcd: fleet.endpoints }).start()];
    linkAddress = await discoverBridgeAddress(docker);
  }, 60_000);
  afterAll(() => fleet?.cleanup(), 120_000);

  it('fails the requiring component by name while the defining one has no serving container, and starts it once it has', async () => {
    await setVersion('web', 'v1');
    const failed = await waitFor(async () => {
      const s = await status('web');
      return s?.phase === 'failed' && s;
    }, { timeoutMs: 60_000, what: `web to fail for want of its link\n${fleet.agents[0].tail(15)}` });
    console.log(`web without api: ${failed.lastError?.reason}`);
    expect(failed.lastError?.reason).toContain('components[1].requireComponentLinks[0] (link "api"): component api, which defines it, has no serving container on host h1');
    expect((await fleet.containers(0)).filter((c) => c.component === 'web')).toEqual([]);

    const since = Date.now();
    await setVersion('api', 'v1');
    await running('api', 'v1');
    // Not after web's retry pause (30 s): api's new serving container wakes it.
    await running('web', 'v1', 25_000);
    console.log(`web started ${Date.now() - since} ms after api was set`);

    const port = linkPort();
    expect(await containerEnv('web')).toEqual({
      UP_CLINK: `http://${linkAddress}:${port}`,
      UP_CLINK_8080_HTTP: `http://${linkAddress}:${port}`,
      UP_CLINK_8080_HTTP_PROTO: 'http',
      UP_CLINK_8080_HTTP_ADDR: linkAddress,
      UP_CLINK_8080_HTTP_PORT: String(port),
    });
    const through = await httpGet(fleet.url(0, '/via/up/'));
    expect(through.status).toBe(200);
    expect(JSON.parse(JSON.parse(through.body).body)).toMatchObject({ version: 'v1' });
  }, 180_000);

  it('switches the link with an update of the defining component under traffic through it: 0 failed requests', async () => {
    const port = linkPort();
    const insideWeb = startLoad({ url: fleet.url(0, '/via/up/'), connections: 4, rate: 100 });
    const hostToLink = startLoad({ url: `http://${linkAddress}:${port}/`, connections: 4, rate: 100 });
    await waitFor(() => insideWeb.snapshot().ok > 20 && hostToLink.snapshot().ok > 20, { timeoutMs: 20_000, what: 'load through the link to flow' });
    await setVersion('api', 'v2');
    await running('api', 'v2');
    // Until the host's traffic reached v2 through the link, and a little beyond.
    await waitFor(() => (hostToLink.snapshot().byVersion.v2 ?? 0) > 200, { timeoutMs: 30_000, what: 'v2 to answer through the link' });
    const reports = [await insideWeb.stop(), await hostToLink.stop()];
    const totals = loadTotals(reports);
    console.log(
      `api v1 → v2 through the link: ${JSON.stringify({ insideWeb: { sent: reports[0].sent, failed: reports[0].errors + reports[0].non2xx, rate: reports[0].rate }, hostToLink: { sent: reports[1].sent, failed: reports[1].errors + reports[1].non2xx, byVersion: reports[1].byVersion }, samples: totals.samples })}`,
    );
    expect(totals.failed).toBe(0);
    expect(reports[1].byVersion.v1).toBeGreaterThan(0);
    expect(JSON.parse(JSON.parse((await httpGet(fleet.url(0, '/via/up/'))).body).body)).toMatchObject({ version: 'v2' });
    expect(linkPort()).toBe(port);
  }, 180_000);

  it('keeps the link on its port across a gantryd restart: a new requiring container gets the same address', async () => {
    const port = linkPort();
    await fleet.agents[0].kill('SIGTERM');
    await fleet.restart(0);
    // A new web container after the restart: its variables come from the restarted agent.
    await setVersion('web', 'v2');
    await running('web', 'v2');
    expect(linkPort()).toBe(port);
    expect((await containerEnv('web')).UP_CLINK_8080_HTTP_PORT).toBe(String(port));
    const answer = await httpGet(`http://${linkAddress}:${port}/`);
    expect(answer).toMatchObject({ status: 200, version: 'v2' });
    console.log(`after restart: link still on ${linkAddress}:${port}`);
  }, 180_000);
});
