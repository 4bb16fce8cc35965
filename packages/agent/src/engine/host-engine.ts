import { join } from 'node:path';
import { HaproxyHostProxy } from '../proxy/proxy';
import { DockerContainerRuntime } from '../runtime/container-runtime';

/** Where a host's state lives unless told: $GANTRY_STATE_DIR, /var/lib/gantry as root, else ~/.local/state/gantry. */
export function defaultStateDir(): string {
  if (process.env.GANTRY_STATE_DIR) return process.env.GANTRY_STATE_DIR;
  if (process.getuid?.() === 0) return '/var/lib/gantry';
  return join(process.env.XDG_STATE_HOME ?? join(process.env.HOME ?? '/tmp', '.local/state'), 'gantry');
}

export interface HostEngineOptions {
  /** The state directory shared by hosts on this machine; each host gets `<stateDir>/<hostId>/`. */
  stateDir: string;
  hostId: string;
  haproxyBin?: string;
  dockerHost?: string;
  /** Deadline of each Docker call, ms (see DockerRuntimeOptions.callTimeoutMs). */
  dockerTimeoutMs?: number;
}

/** One host's runtime and proxy, laid out the same way by gantryd, `gantry local` and the tests. */
export function createHostEngine(opts: HostEngineOptions): { runtime: DockerContainerRuntime; proxy: HaproxyHostProxy } {
  return {
    runtime: new DockerContainerRuntime({ dockerHost: opts.dockerHost, callTimeoutMs: opts.dockerTimeoutMs }),
    proxy: new HaproxyHostProxy({ stateDir: join(opts.stateDir, opts.hostId, 'haproxy'), haproxyBin: opts.haproxyBin }),
  };
}
