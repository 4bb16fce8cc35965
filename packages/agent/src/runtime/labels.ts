import { randomBytes } from 'node:crypto';

/**
 * Labels gantryd puts on every container it creates. They are how the agent finds its own
 * containers again after a restart: nothing else about a container is trusted to mean "ours".
 */
export const LABEL_PREFIX = 'io.gantry.';

export const Labels = {
  /** Always "true" on containers gantryd created. */
  managed: `${LABEL_PREFIX}managed`,
  project: `${LABEL_PREFIX}project`,
  component: `${LABEL_PREFIX}component`,
  /** The id of the host (agent) that owns the container. */
  host: `${LABEL_PREFIX}host`,
  /** The tag or digest being run. */
  version: `${LABEL_PREFIX}version`,
  /** Optional: hash of the component config the container was created from. */
  configHash: `${LABEL_PREFIX}config-hash`,
  /** The per-container id substituted for `{container_id}` in bindings (see container-spec.ts). */
  instance: `${LABEL_PREFIX}instance`,
} as const;

/** What identifies one managed container. */
export interface GantryLabelValues {
  project: string;
  component: string;
  hostId: string;
  version: string;
  configHash?: string;
  instanceId?: string;
}

export function gantryLabels(values: GantryLabelValues): Record<string, string> {
  const labels: Record<string, string> = {
    [Labels.managed]: 'true',
    [Labels.project]: values.project,
    [Labels.component]: values.component,
    [Labels.host]: values.hostId,
    [Labels.version]: values.version,
  };
  if (values.configHash !== undefined) labels[Labels.configHash] = values.configHash;
  if (values.instanceId !== undefined) labels[Labels.instance] = values.instanceId;
  return labels;
}

/** Which managed containers to list: one host's containers of a project, optionally one component. */
export interface ContainerSelector {
  project: string;
  hostId: string;
  component?: string;
}

/** The `filters` value for Docker's container list: `{ label: ["k=v", ...] }` (all must match). */
export function labelFilter(selector: ContainerSelector): { label: string[] } {
  const label = [`${Labels.managed}=true`, `${Labels.project}=${selector.project}`, `${Labels.host}=${selector.hostId}`];
  if (selector.component !== undefined) label.push(`${Labels.component}=${selector.component}`);
  return { label };
}

/** True when a container's labels say it belongs to `selector` (a second check after the daemon's filter). */
export function matchesSelector(labels: Record<string, string> | undefined, selector: ContainerSelector): boolean {
  if (!labels || labels[Labels.managed] !== 'true') return false;
  if (labels[Labels.project] !== selector.project || labels[Labels.host] !== selector.hostId) return false;
  return selector.component === undefined || labels[Labels.component] === selector.component;
}

/** A fresh per-container instance id: 12 lowercase hex digits, the shape of a Docker short id. */
export function newInstanceId(): string {
  return randomBytes(6).toString('hex');
}

/**
 * Makes `value` safe inside a Docker container name (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`): other
 * characters become "-", and a digest "sha256:<hex>" is shortened to "sha256-<first 12 hex>".
 */
export function sanitizeNamePart(value: string): string {
  const digest = /^([a-z0-9]+):([a-f0-9]{12})[a-f0-9]*$/.exec(value);
  const text = digest ? `${digest[1]}-${digest[2]}` : value;
  const cleaned = text.replace(/[^a-zA-Z0-9_.-]/g, '-').replace(/^[^a-zA-Z0-9]+/, '');
  return (cleaned || 'x').slice(0, 64);
}

/**
 * `gantry.<host>.<project>.<component>.<version>.<6 hex>`: readable in `docker ps`, unique thanks
 * to the random suffix (the first 6 digits of the instance id when one is given).
 */
export function containerName(parts: { hostId: string; project: string; component: string; version: string; instanceId?: string }): string {
  const suffix = (parts.instanceId ?? newInstanceId()).slice(0, 6);
  if (!/^[a-f0-9]{6}$/.test(suffix)) throw new Error(`instance id must start with 6 lowercase hex digits, got "${parts.instanceId}"`);
  return ['gantry', parts.hostId, parts.project, parts.component, parts.version].map(sanitizeNamePart).join('.') + `.${suffix}`;
}
