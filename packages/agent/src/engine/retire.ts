import type { Component } from '@gantry/spec';
import { drain } from '../drain/drainer';
import type { ManagedContainer } from '../runtime/container-runtime';
import { containerTarget } from './container-target';
import type { EventSink } from './events';
import type { ContainerTeardowns } from './teardown';
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
 * Drains the given containers in parallel (each leaves every frontend at its end) and hands each to
 * `teardown` to be stopped and removed: returns once they are drained, not once they are gone.
 * The end of every update, and all of a graceful stop. `drainTimeoutMs` overrides the component's.
 */
export async function retireContainers(
  deps: EngineDeps,
  component: Component,
  containers: ManagedContainer[],
  emit: EventSink,
  teardown: ContainerTeardowns,
  drainTimeoutMs = component.drainTimeout,
): Promise<Retired[]> {
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
      void teardown.begin(c, component.stopTimeout, emit);
      return { container: c.id, drained: result.drained, closedConnections: result.closedConnections, waitedMs: result.waitedMs };
    }),
  );
}
