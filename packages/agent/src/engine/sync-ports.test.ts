import { projectConfigSchema } from '@gantry/spec';
import type { ManagedContainer } from '../runtime/container-runtime';
import { servedFrontends } from './frontends';
import { portChanges } from './sync-ports';

const component = projectConfigSchema.parse({
  components: [{ name: 'web', repo: 'r/app', tag: 'v1', ports: [{ external: 80, container: 8080, kind: 'http' }, { external: 81, container: 9090, kind: 'tcp' }] }],
}).components[0];

const container = (id: string, hostPorts: ManagedContainer['hostPorts']): ManagedContainer =>
  ({ id, name: id, project: 'p', component: 'web', hostId: 'h1', version: 'v1', image: 'r/app:v1', imageId: 'sha256:x', state: 'running', health: 'none', createdAt: new Date(0), hostPorts, restartCount: 0 }) as ManagedContainer;

const a = 'a'.repeat(64);
const b = 'b'.repeat(64);

describe('portChanges', () => {
  it('names each server whose container is published elsewhere now, per frontend', () => {
    const servers = [
      [{ name: `c-${a.slice(0, 12)}`, address: '127.0.0.1', port: 32768 }, { name: `c-${b.slice(0, 12)}`, address: '127.0.0.1', port: 32770 }],
      [{ name: `c-${a.slice(0, 12)}`, address: '127.0.0.1', port: 32769 }],
    ];
    const containers = [
      container(a, { 8080: { host: '127.0.0.1', port: 32780 }, 9090: { host: '127.0.0.1', port: 32769 } }),
      container(b, { 8080: { host: '127.0.0.1', port: 32770 } }),
    ];
    expect(portChanges(servedFrontends(component), servers, containers)).toEqual([
      { container: a, frontend: 'web-80', from: { host: '127.0.0.1', port: 32768 }, to: { host: '127.0.0.1', port: 32780 } },
    ]);
  });

  it('leaves alone a container Docker publishes nothing for (not running) and servers of other containers', () => {
    const servers = [[{ name: `c-${a.slice(0, 12)}`, address: '127.0.0.1', port: 32768 }, { name: 'c-ffffffffffff', address: '127.0.0.1', port: 1 }], []];
    expect(portChanges(servedFrontends(component), servers, [container(a, {})])).toEqual([]);
    expect(portChanges(servedFrontends(component), [[], []], [container(a, { 8080: { host: '127.0.0.1', port: 40000 } })])).toEqual([]);
  });
});
