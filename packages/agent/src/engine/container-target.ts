import type { CheckTarget } from '../checks/check-target';
import type { ContainerRuntime, ManagedContainer } from '../runtime/container-runtime';

/** Lets checks, signals and drain reach one container without knowing about Docker. */
export function containerTarget(runtime: ContainerRuntime, container: ManagedContainer): CheckTarget {
  return {
    endpoint: (port) => container.hostPorts[port],
    exec: (command, timeoutMs) => runtime.exec(container.id, command, timeoutMs),
    dockerHealth: async () => (await runtime.inspect(container.id))?.health ?? 'none',
  };
}
