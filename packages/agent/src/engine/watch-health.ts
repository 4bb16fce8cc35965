import type { Component } from '@gantry/spec';
import { HealthMonitor, type HealthStatus } from '../checks/health-monitor';
import type { ContainerRuntime, ManagedContainer } from '../runtime/container-runtime';
import { containerTarget } from './container-target';

/**
 * Starts running a serving container's health checks, as the component says (its checks and
 * failure threshold). The one place both `gantry local --monitor` and the agent watch health.
 */
export function watchHealth(
  runtime: ContainerRuntime,
  component: Component,
  container: ManagedContainer,
  hooks: { onChange(status: HealthStatus): void; onUnhealthy(status: HealthStatus): void },
): HealthMonitor {
  return new HealthMonitor(component.healthChecks, containerTarget(runtime, container), {
    failureThreshold: component.healthFailureThreshold,
    onChange: hooks.onChange,
    onUnhealthy: hooks.onUnhealthy,
  }).start();
}
