import type { ContainerCreateOptions } from 'dockerode';
import { containerPorts, type Component } from '@gantry/spec';
import { containerName, gantryLabels } from './labels';

/** Where and as what a component's container is created. */
export interface ContainerContext {
  project: string;
  hostId: string;
  /** The tag or digest being run (recorded in the version label and the name). */
  version: string;
  /** The image reference to run, e.g. "repo:tag" or "repo@sha256:…". */
  imageRef: string;
  /**
   * Per-container id (lowercase hex, at least 6 digits; see labels.newInstanceId). Its first 6
   * digits end the container name, and it replaces `{container_id}` in bindings.
   */
  instanceId: string;
  /** Host address published container ports bind to. Default 127.0.0.1: only the host's proxy reaches them. */
  publishAddress?: string;
  /** Hash of the component config, recorded as a label when given. */
  configHash?: string;
}

export const DEFAULT_PUBLISH_ADDRESS = '127.0.0.1';
export const CONTAINER_ID_PLACEHOLDER = '{container_id}';

/**
 * A binding's host side with `{container_id}` substituted.
 *
 * Gantryd substituted Docker's short container id, which only exists after the container is
 * created — and binds cannot be changed after create. Gantry substitutes the container's
 * instance id instead: 12 random hex digits, the same shape as a short id, generated before
 * create, unique per container, and recorded on the container (the `io.gantry.instance` label and
 * the first 6 digits as the name suffix), so the directory can still be traced to its container.
 */
export function bindHostPath(external: string, instanceId: string): string {
  return external.split(CONTAINER_ID_PLACEHOLDER).join(instanceId);
}

/**
 * The Docker create options for `component` in `ctx`. Pure: same input, same output.
 *
 * Every port in `containerPorts(component)` (served, check and link ports) is published on
 * `publishAddress` with an empty HostPort, so Docker picks a free ephemeral port; the agent reads
 * it back after start. No Healthcheck is set: the image's HEALTHCHECK applies as is.
 */
export function containerCreateOptions(component: Component, ctx: ContainerContext): ContainerCreateOptions & { name: string } {
  const publishAddress = ctx.publishAddress ?? DEFAULT_PUBLISH_ADDRESS;
  const exposedPorts: Record<string, Record<string, never>> = {};
  const portBindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const port of containerPorts(component)) {
    exposedPorts[`${port}/tcp`] = {};
    portBindings[`${port}/tcp`] = [{ HostIp: publishAddress, HostPort: '' }];
  }

  const options: ContainerCreateOptions & { name: string } = {
    name: containerName({ hostId: ctx.hostId, project: ctx.project, component: component.name, version: ctx.version, instanceId: ctx.instanceId }),
    Image: ctx.imageRef,
    Env: component.environmentVariables.map((v) => {
      // valueFrom is read on the host by the engine (engine/environment.ts), which passes the values in.
      if (v.value === undefined) throw new Error(`environment variable ${v.name}: its valueFrom file was not read`);
      return `${v.name}=${v.value}`;
    }),
    // Ours last: a user label cannot disguise which host or project a container belongs to.
    Labels: {
      ...component.labels,
      ...gantryLabels({
        project: ctx.project,
        component: component.name,
        hostId: ctx.hostId,
        version: ctx.version,
        configHash: ctx.configHash,
        instanceId: ctx.instanceId,
      }),
    },
    ExposedPorts: exposedPorts,
    StopTimeout: Math.ceil(component.stopTimeout / 1000),
    HostConfig: {
      PortBindings: portBindings,
      Binds: component.bindings.map((b) => `${bindHostPath(b.external, ctx.instanceId)}:${b.volume}${b.readOnly ? ':ro' : ''}`),
      VolumesFrom: [...component.volumesFrom],
      Privileged: component.privileged,
      RestartPolicy: { Name: component.restartPolicy },
    },
  };
  if (component.command.length > 0) options.Cmd = [...component.command];
  if (component.user !== '') options.User = component.user;
  if (component.memory !== undefined) options.HostConfig!.Memory = component.memory;
  if (component.cpus !== undefined) options.HostConfig!.NanoCpus = Math.round(component.cpus * 1e9);
  if (component.capAdd.length > 0) options.HostConfig!.CapAdd = [...component.capAdd];
  return options;
}
