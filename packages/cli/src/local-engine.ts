import { ContainerTeardowns, createHostEngine, HostLinkEndpoints, type EngineDeps, type HostContext } from '@gantry/agent';
import type { ProjectConfig } from '@gantry/spec';
import { loadConfigFile } from './load-config';
import { projectName, type LocalArgs } from './local-options';

export interface LocalEngine {
  deps: EngineDeps & { teardown: ContainerTeardowns };
  ctx: HostContext;
  config: ProjectConfig;
}

/** The host engine for `gantry local`: this machine's Docker and its HAProxy, no etcd. */
export function openLocalEngine(args: LocalArgs): LocalEngine {
  const config = loadConfigFile(args.config, args.setconfig);
  const engine = createHostEngine({ stateDir: args['state-dir'], hostId: args.host, haproxyBin: args.haproxy, dockerHost: args['docker-host'] });
  // A drained container's stop goes on beside the verb (`local update` says when it ends); this
  // process does not exit before it does, unless interrupted (then the next run finishes it).
  const deps = { ...engine, teardown: new ContainerTeardowns(engine.runtime) };
  // Links as gantryd serves them, with its defaults: the same ports when gantryd later runs this host.
  const links = new HostLinkEndpoints({ stateDir: args['state-dir'], hostId: args.host, address: { docker: deps.runtime.docker } });
  const ctx: HostContext = { project: projectName(args), hostId: args.host, bindAddress: args.bind, publishAddress: '127.0.0.1', links };
  return { deps, ctx, config };
}
