import { jsonPath, type Component, type ProjectConfig } from '@gantry/spec';
import { linkEnvironment } from '../links/link-environment';
import { UnknownFrontendError } from '../proxy/errors';
import type { HostProxy } from '../proxy/proxy';
import { asEngineError, EngineError } from './errors';
import { linkFrontendName } from './frontends';
import type { HostContext } from './host-context';

/**
 * The variables of every link `component` requires (see links/link-environment.ts), for a new
 * container of it. Each link must have a serving container behind it on this host now: the proxy's
 * link frontend has a ready server. Otherwise this is an error naming the field, the link and the
 * component that defines it, and no container is made (the worker tries again later; the agent
 * also wakes it when a component of the host converges).
 */
export async function requiredLinkEnvironment(proxy: HostProxy, ctx: HostContext, config: ProjectConfig, component: Component, index: number): Promise<Array<{ name: string; value: string }>> {
  const env: Array<{ name: string; value: string }> = [];
  for (const [j, required] of component.requireComponentLinks.entries()) {
    const where = `${jsonPath(['components', index, 'requireComponentLinks', j])} (link "${required.name}")`;
    const defining = config.components.find((c) => c.defineComponentLinks.some((l) => l.name === required.name));
    const link = defining?.defineComponentLinks.find((l) => l.name === required.name);
    if (!defining || !link) throw new EngineError('link', `${where}: no component of the config defines it`);
    if (!ctx.links) throw new EngineError('link', `${where}: this host serves no component links (it has no link address)`);
    let endpoint;
    try {
      endpoint = await ctx.links.endpoint(ctx.project, link.name);
    } catch (err) {
      throw asEngineError(err, 'link', where);
    }
    const servers = await proxy.servers(linkFrontendName(link.name)).catch((err: unknown) => {
      if (err instanceof UnknownFrontendError) return [];
      throw err;
    });
    if (!servers.some((s) => s.state === 'ready')) {
      throw new EngineError('link', `${where}: component ${defining.name}, which defines it, has no serving container on host ${ctx.hostId}; ${component.name} is started once it has`);
    }
    env.push(...linkEnvironment(required.alias, link, endpoint));
  }
  return env;
}
