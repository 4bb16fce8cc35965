import { updateComponent } from '@gantry/agent';
import { demoConfig } from '../../support/demo-config';
import { localHost, type LocalHost } from '../../support/local-host';
import type { Peer } from './peer';

const PORT = 80;

/** Gantry: `updateComponent` on a local host (its own loopback address and HAProxy), as `BENCH=local` does. */
export function gantryPeer(): Peer {
  let host: LocalHost | undefined;
  const config = demoConfig(PORT, { drainTimeout: 10_000 });
  return {
    name: 'Gantry',
    how: 'updateComponent on a local host: new container, ready check, Runtime API switch in its HAProxy, drain, old container stopped and removed',
    async start() {
      host = await localHost({ port: PORT });
      await updateComponent(host.deps, host.ctx, { config, component: 'web', tag: 'v1' });
      return host.url(PORT, '/');
    },
    async update(tag) {
      await updateComponent(host!.deps, host!.ctx, { config, component: 'web', tag });
    },
    async cleanup() {
      await host?.cleanup().catch((err: Error) => console.error(`cleanup of the Gantry host: ${err.message}`));
    },
  };
}
