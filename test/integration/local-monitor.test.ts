/**
 * Health checks keep running after an update; a container that turns unhealthy is replaced
 * through the same zero-downtime path.
 */
import http from 'node:http';
import { monitorComponent, updateComponent, type EngineEvent } from '@gantry/agent';
import { ensureDemoImages, startLoad, waitFor } from '@gantry/testkit';
import { demoConfig } from '../support/demo-config';
import { localHost, type LocalHost } from '../support/local-host';

const PORT = 80;
const post = (url: string) =>
  new Promise<number>((resolve, reject) => {
    http.request(url, { method: 'POST' }, (res) => (res.resume(), resolve(res.statusCode!))).on('error', reject).end();
  });

beforeAll(() => ensureDemoImages(), 600_000);

describe('health monitoring', () => {
  let host: LocalHost;
  beforeEach(async () => {
    host = await localHost();
  });
  afterEach(() => host.cleanup());

  it('replaces an unhealthy container with a fresh one, without dropping a request', async () => {
    const config = demoConfig(PORT, { healthChecks: [{ kind: 'http', port: 8080, path: '/healthz', interval: 0.2, retries: 1, timeout: 1 }], healthFailureThreshold: 2 });
    const first = await updateComponent(host.deps, host.ctx, { config, component: 'web', tag: 'v1' });
    const sick = (await host.deps.runtime.inspect(first.container))!;

    const events: EngineEvent[] = [];
    const abort = new AbortController();
    const monitoring = monitorComponent(host.deps, host.ctx, { config, component: 'web', onEvent: (e) => events.push(e), signal: abort.signal });
    await waitFor(() => events.some((e) => e.type === 'health' && e.state === 'healthy'), { what: 'the first healthy round' });

    const load = startLoad({ url: host.url(PORT, '/'), connections: 4, rate: 200 });
    expect(await post(`http://${sick.hostPorts[8080].host}:${sick.hostPorts[8080].port}/admin/fail-health`)).toBe(200);
    await waitFor(() => events.some((e) => e.type === 'replacing' && e.container === sick.id), { what: 'the monitor to replace the unhealthy container', timeoutMs: 20_000 });
    const replaced = await waitFor(
      async () => {
        const running = await host.containers();
        return running.length === 1 && running[0].id !== sick.id ? running[0] : undefined;
      },
      { what: 'the unhealthy container to be retired', timeoutMs: 60_000 },
    );
    await waitFor(() => events.some((e) => e.type === 'health' && e.container === replaced.id && e.state === 'healthy'), { what: 'the replacement to be monitored' });
    abort.abort();
    await monitoring;
    const report = await load.stop();

    expect(replaced.version).toBe('v1');
    expect({ errors: report.errors, non2xx: report.non2xx, samples: report.samples }).toEqual({ errors: 0, non2xx: 0, samples: [] });
  });
});
