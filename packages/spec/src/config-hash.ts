import { createHash } from 'node:crypto';
import { containerPorts, type Component } from './component';

/**
 * A short hash of what in a component's spec shapes its container (not the image, compared by id,
 * nor checks and timeouts, which only steer the agent). Two containers with the same image and
 * hash are interchangeable, which is how a repeated update knows there is nothing to do. It is also
 * the config generation a desired version names (`configHash`), so config changes roll out host by
 * host like versions do: the CLI and the coordinator compute it, the agents compare it.
 */
export function componentConfigHash(component: Component): string {
  const shape = {
    command: component.command,
    user: component.user,
    containerPorts: containerPorts(component),
    bindings: component.bindings,
    volumesFrom: component.volumesFrom,
    privileged: component.privileged,
    // `secret` only steers what is shown: marking a value secret replaces no container.
    environmentVariables: component.environmentVariables.map(({ secret: _shown, ...variable }) => variable),
    labels: component.labels,
    restartPolicy: component.restartPolicy,
    memory: component.memory,
    cpus: component.cpus,
    stopTimeout: component.stopTimeout,
    requireComponentLinks: component.requireComponentLinks,
    // Only when set: configs from before the field keep their hash (and their containers).
    ...(component.capAdd.length > 0 && { capAdd: component.capAdd }),
  };
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 12);
}
