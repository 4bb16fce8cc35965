import { componentSchema } from '@gantry/spec';
import type { HostProxy } from '../proxy/proxy';
import type { ContainerRuntime, ManagedContainer } from '../runtime/container-runtime';
import { observeComponent, serverName } from './observe';

const ctx = { project: 'shop', hostId: 'h1', bindAddress: '127.0.0.1', publishAddress: '127.0.0.1' };
const container = (id: string, state: ManagedContainer['state'] = 'running') => ({ id, state }) as ManagedContainer;

/** Docker's list and the proxy's servers as given: what observe classifies, without either. */
function world(containers: ManagedContainer[], servers: Array<{ name: string; state: string }>) {
  return {
    runtime: { list: async () => containers } as unknown as ContainerRuntime,
    proxy: { servers: async () => servers } as unknown as HostProxy,
  };
}

describe('observeComponent: teardowns', () => {
  const web = componentSchema.parse({ name: 'web', repo: 'app', ports: [{ external: 80, container: 8080 }] });
  const [serving, drained, torn] = [container('serving000001'), container('drained00001'), container('torn00000001')];

  it('a container in no frontend is a leftover, to be torn down; one whose teardown runs is only that', async () => {
    const { runtime, proxy } = world([serving, drained, torn], [{ name: serverName(serving), state: 'ready' }]);
    const observed = await observeComponent(runtime, proxy, ctx, web, { has: (id) => id === torn.id });
    expect(observed.serving).toEqual([serving]);
    expect(observed.leftovers).toEqual([drained]);
    expect(observed.tearingDown).toEqual([torn]);
    expect(observed.staleServers).toEqual([]);
  });

  it('a container being torn down never serves again, even without frontends (where running means serving)', async () => {
    const worker = componentSchema.parse({ name: 'worker', repo: 'app' });
    const { runtime, proxy } = world([serving, torn], []);
    const observed = await observeComponent(runtime, proxy, ctx, worker, { has: (id) => id === torn.id });
    expect(observed.serving).toEqual([serving]);
    expect(observed.tearingDown).toEqual([torn]);
  });

  it('the server of a container being torn down is not stale: it is still listed', async () => {
    const { runtime, proxy } = world([serving, torn], [{ name: serverName(serving), state: 'ready' }, { name: serverName(torn), state: 'drain' }]);
    const observed = await observeComponent(runtime, proxy, ctx, web, { has: (id) => id === torn.id });
    expect(observed.staleServers).toEqual([]);
    expect(observed.draining).toEqual([]);
  });
});
