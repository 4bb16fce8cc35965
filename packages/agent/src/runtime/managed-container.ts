import type { ContainerInspectInfo } from 'dockerode';
import { Labels } from './labels';

export type ContainerState = 'created' | 'running' | 'exited' | 'dead' | 'paused' | 'restarting' | 'removing';
export type ContainerHealth = 'healthy' | 'unhealthy' | 'starting' | 'none';

/** A host address and port where a container port is published. */
export interface PublishedPort {
  host: string;
  port: number;
}

/** A container gantryd created, as the rest of the agent sees it. */
export interface ManagedContainer {
  id: string;
  name: string;
  project: string;
  component: string;
  hostId: string;
  version: string;
  /** The image reference the container was created from. */
  image: string;
  imageId: string;
  state: ContainerState;
  /** The image HEALTHCHECK's status; 'none' when the image has none. */
  health: ContainerHealth;
  createdAt: Date;
  startedAt?: Date;
  /** By container port (tcp). Empty until the container has been started. */
  hostPorts: Record<number, PublishedPort>;
  /** The `{container_id}` substitute of its bindings (label io.gantry.instance). */
  instanceId?: string;
  /** The config hash it was created with, when one was given. */
  configHash?: string;
  /** Exit code of the last run, when not running. */
  exitCode?: number;
  /** Times Docker's restart policy restarted it. */
  restartCount: number;
}

const STATES: readonly ContainerState[] = ['created', 'running', 'exited', 'dead', 'paused', 'restarting', 'removing'];
const HEALTHS: readonly ContainerHealth[] = ['healthy', 'unhealthy', 'starting'];

/** Docker's zero time ("0001-01-01T00:00:00Z") means never. */
function dateOrUndefined(value: string | undefined): Date | undefined {
  if (!value || value.startsWith('0001-')) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** A wildcard bind address is reached through loopback. */
function reachableHost(hostIp: string | undefined): string {
  return !hostIp || hostIp === '0.0.0.0' || hostIp === '::' ? '127.0.0.1' : hostIp;
}

/** Published tcp ports from `NetworkSettings.Ports`, preferring an IPv4 binding. */
export function publishedPorts(ports: ContainerInspectInfo['NetworkSettings']['Ports'] | null | undefined): Record<number, PublishedPort> {
  const result: Record<number, PublishedPort> = {};
  for (const [key, bindings] of Object.entries(ports ?? {})) {
    const [port, proto] = key.split('/');
    if (proto !== 'tcp' || !bindings || bindings.length === 0) continue;
    const binding = bindings.find((b) => !b.HostIp.includes(':')) ?? bindings[0];
    const hostPort = Number(binding.HostPort);
    if (hostPort > 0) result[Number(port)] = { host: reachableHost(binding.HostIp), port: hostPort };
  }
  return result;
}

/** Maps `docker inspect` output to a ManagedContainer; undefined when the container lacks our labels. */
export function toManagedContainer(info: ContainerInspectInfo): ManagedContainer | undefined {
  const labels = info.Config?.Labels ?? {};
  if (labels[Labels.managed] !== 'true') return undefined;
  const status = info.State.Status as ContainerState;
  const healthStatus = (info.State as { Health?: { Status?: string } }).Health?.Status as ContainerHealth | undefined;
  const running = info.State.Running || info.State.Restarting;
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    project: labels[Labels.project] ?? '',
    component: labels[Labels.component] ?? '',
    hostId: labels[Labels.host] ?? '',
    version: labels[Labels.version] ?? '',
    image: info.Config.Image,
    imageId: info.Image,
    state: STATES.includes(status) ? status : 'dead',
    health: healthStatus && HEALTHS.includes(healthStatus) ? healthStatus : 'none',
    createdAt: new Date(info.Created),
    startedAt: dateOrUndefined(info.State.StartedAt),
    hostPorts: publishedPorts(info.NetworkSettings?.Ports),
    instanceId: labels[Labels.instance],
    configHash: labels[Labels.configHash],
    exitCode: running || status === 'created' ? undefined : info.State.ExitCode,
    restartCount: info.RestartCount ?? 0,
  };
}
