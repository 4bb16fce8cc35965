import type { Component } from '@gantry/spec';
import { drain } from '../drain/drainer';
import type { ManagedContainer } from '../runtime/container-runtime';
import { containerTarget } from './container-target';
import type { EventSink } from './events';
import { servedFrontends } from './frontends';
import { serverName } from './observe';
import type { EngineDeps } from './update';

export interface Retired {
  container: string;
  drained: boolean;
  closedConnections: number;
  waitedMs: number;
}

/**
 * Drains the given containers in parallel, then stops and removes each: the end of every update,
 * and all of a graceful stop. `drainTimeoutMs` overrides the component's (0 for a kill).
 */
export async function retireContainers(deps: EngineDeps, component: Component, containers: ManagedContainer[], emit: EventSink, drainTimeoutMs = component.drainTimeout): Promise<Retired[]> {
  const frontends = servedFrontends(component).map((f) => f.frontend);
  return Promise.all(
    containers.map(async (c) => {
      const result = await drain(
        deps.proxy,
        { server: serverName(c), frontends, target: containerTarget(deps.runtime, c) },
        { drainTimeoutMs, terminationSignals: component.terminationSignals, terminationChecks: component.terminationChecks },
        {
          onStart: (deadline) => emit({ type: 'drain-started', container: c.id, deadline }),
          onProgress: (liveConnections, deadline) => emit({ type: 'drain-progress', container: c.id, liveConnections, deadline }),
        },
      );
      emit({ type: 'drained', container: c.id, waitedMs: result.waitedMs, closedConnections: result.closedConnections });
      await deps.runtime.stop(c.id, component.stopTimeout);
      emit({ type: 'stopped', container: c.id });
      await deps.runtime.remove(c.id);
      emit({ type: 'removed', container: c.id });
      return { container: c.id, drained: result.drained, closedConnections: result.closedConnections, waitedMs: result.waitedMs };
    }),
  );
}
