import type { ProjectConfig } from '@gantry/spec';
import type { EventSink } from './events';
import { hostFrontends } from './frontends';
import type { HostContext } from './host-context';
import { stopComponent } from './stop';
import type { EngineDeps } from './update';

/** Docker's default grace period, for containers whose component spec is no longer known. */
const ORPHAN_STOP_TIMEOUT_MS = 10_000;

/**
 * A component gone from the config: its containers drain (with the spec they ran under, the last
 * config that had it) and are removed, then its frontends leave the proxy. Requests in flight when
 * the frontends go finish on the old HAProxy worker.
 */
export async function removeComponent(deps: EngineDeps, ctx: HostContext, req: { lastConfig: ProjectConfig; config: ProjectConfig; component: string; onEvent?: EventSink }): Promise<void> {
  await stopComponent(deps, ctx, { config: req.lastConfig, component: req.component, onEvent: req.onEvent });
  await deps.proxy.ensure(await hostFrontends(req.config, ctx));
}

/**
 * Containers of this host whose component the (valid) config no longer has and whose spec this
 * process never saw (removed while the agent was down): their frontends leave the proxy first, so
 * no new request reaches them, then they are stopped and removed. Returns what was removed.
 */
export async function removeOrphans(deps: EngineDeps, ctx: HostContext, config: ProjectConfig, keep: ReadonlySet<string>, onEvent: EventSink = () => undefined): Promise<Array<{ component: string; container: string }>> {
  const known = new Set(config.components.map((c) => c.name));
  const orphans = (await deps.runtime.list({ project: ctx.project, hostId: ctx.hostId })).filter((c) => !known.has(c.component) && !keep.has(c.component));
  if (orphans.length === 0) return [];
  await deps.proxy.ensure(await hostFrontends(config, ctx));
  for (const c of orphans) {
    await deps.runtime.stop(c.id, ORPHAN_STOP_TIMEOUT_MS);
    onEvent({ type: 'stopped', container: c.id });
    await deps.runtime.remove(c.id);
    onEvent({ type: 'removed', container: c.id });
  }
  return orphans.map((c) => ({ component: c.component, container: c.id }));
}
