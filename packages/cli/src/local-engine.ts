import { createHostEngine, HostLinkEndpoints, type EngineDeps, type HostContext } from '@gantry/agent';
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
  const config = loadConfigFile(args.config, args.setconfig);
  const deps = createHostEngine({ stateDir: args['state-dir'], hostId: args.host, haproxyBin: args.haproxy, dockerHost: args['docker-host'] });
  // Links as gantryd serves them, with its defaults: the same ports when gantryd later runs this host.
  const links = new HostLinkEndpoints({ stateDir: args['state-dir'], hostId: args.host, address: { docker: deps.runtime.docker } });
  const ctx: HostContext = { project: projectName(args), hostId: args.host, bindAddress: args.bind, publishAddress: '127.0.0.1', links };
  return { deps, ctx, config };
}
