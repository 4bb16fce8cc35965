import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHostEngine, type DockerContainerRuntime, type EngineDeps, type HaproxyHostProxy, type HostContext } from '@gantry/agent';
import { serviceEnv } from '@gantry/testkit';

/** One simulated host: its own id, loopback address 127.0.1.N, HAProxy state dir, and project. */
export interface LocalHost {
  ctx: HostContext;
  deps: EngineDeps & { runtime: DockerContainerRuntime; proxy: HaproxyHostProxy };
  stateDir: string;
  url(port: number, path: string): string;
  /** This host's containers of the project: id, version and state, oldest first. */
  containers(): Promise<Array<{ id: string; version: string; state: string }>>;
  /** Listens on this host's address and `port`, so the proxy finds it taken. */
  occupy(port: number): Promise<net.Server>;
  /** Removes the host's containers and stops its HAProxy. */
  cleanup(): Promise<void>;
}

const canBind = (address: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, address, () => probe.close(() => resolve(true)));
  });

/** `count` distinct free 127.0.1.N (N from 2 to 254) where `port` can be bound: test files may run in parallel. */
export async function freeHostAddresses(count: number, port: number): Promise<string[]> {
  const found = new Set<string>();
  for (let attempt = 0; attempt < 100 && found.size < count; attempt++) {
    const address = `127.0.1.${2 + Math.floor(Math.random() * 253)}`;
    if (!found.has(address) && (await canBind(address, port))) found.add(address);
  }
  if (found.size < count) throw new Error(`fewer than ${count} 127.0.1.N addresses have port ${port} free`);
  return [...found];
}

export async function localHost(opts: { port?: number; stateDir?: string } = {}): Promise<LocalHost> {
  const env = serviceEnv();
  const [bindAddress] = await freeHostAddresses(1, opts.port ?? 80);
  const id = randomBytes(3).toString('hex');
  const ctx: HostContext = { project: `it-${id}`, hostId: `host-${bindAddress.split('.')[3]}-${id}`, bindAddress, publishAddress: '127.0.0.1' };
  const stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), `gantry-${ctx.hostId}-`));
  const { runtime, proxy } = createHostEngine({ stateDir, hostId: ctx.hostId, haproxyBin: env.haproxyBin, dockerHost: env.dockerHost });
  return {
    ctx,
    deps: { runtime, proxy },
    stateDir,
    url: (port, path) => `http://${bindAddress}:${port}${path}`,
    containers: async () => (await runtime.list({ project: ctx.project, hostId: ctx.hostId })).map((c) => ({ id: c.id, version: c.version, state: c.state })),
    occupy: (port) =>
      new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once('error', reject);
        server.listen(port, bindAddress, () => resolve(server));
      }),
    async cleanup() {
      for (const c of await runtime.list({ project: ctx.project, hostId: ctx.hostId })) await runtime.remove(c.id);
      await proxy.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
