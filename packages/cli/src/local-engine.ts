import { join } from 'node:path';
import { DockerContainerRuntime, HaproxyHostProxy, type EngineDeps, type HostContext } from '@gantry/agent';
import type { ProjectConfig } from '@gantry/spec';
import { loadConfigFile } from './load-config';
import { projectName, type LocalArgs } from './local-options';

export interface LocalEngine {
  deps: EngineDeps;
  ctx: HostContext;
  config: ProjectConfig;
}

/** The host engine for `gantry local`: this machine's Docker and its HAProxy, no etcd. */
export function openLocalEngine(args: LocalArgs): LocalEngine {
  const config = loadConfigFile(args.config);
  const ctx: HostContext = { project: projectName(args), hostId: args.host, bindAddress: args.bind, publishAddress: '127.0.0.1' };
  const runtime = new DockerContainerRuntime({ dockerHost: args['docker-host'] });
  const proxy = new HaproxyHostProxy({ stateDir: join(args['state-dir'], args.host, 'haproxy'), haproxyBin: args.haproxy });
  return { deps: { runtime, proxy }, ctx, config };
}
