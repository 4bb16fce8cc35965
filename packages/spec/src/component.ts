import { z } from 'zod';
import { checkSchema, terminationCheckSchema, terminationSignalSchema } from './check';
import { identifier, memoryBytes, milliseconds, portNumber } from './primitives';

/** A container port served to the outside through the host's proxy on `external`. */
export const portMappingSchema = z.strictObject({
  external: portNumber,
  container: portNumber,
  /** `http` lets the proxy speak HTTP (per-request balancing, X-Forwarded-For); `tcp` passes bytes. */
  kind: z.enum(['tcp', 'http']).default('tcp'),
});
export type PortMapping = z.infer<typeof portMappingSchema>;

export const bindingSchema = z.strictObject({
  /** Host path; `{container_id}` is replaced by the container's short id, as in Gantryd. */
  external: z.string().min(1),
  volume: z.string().startsWith('/', 'must be an absolute path in the container'),
  readOnly: z.boolean().default(false),
});

/** Where a value is read on the host instead of stored in etcd. */
export const valueSourceSchema = z.strictObject({
  /** An absolute path on the host, under a directory the host's policy allows (`secretFiles`); read at container creation. */
  file: z.string().startsWith('/', 'must be an absolute path on the host'),
});

/**
 * `value` (stored in etcd) or `valueFrom` (read on the host), exactly one. `secret: true` keeps
 * the value out of every CLI output and status. Both new fields are optional, without defaults:
 * an existing config parses to the same value, and so keeps its config hash.
 */
export const environmentVariableSchema = z
  .strictObject({
    name: z.string().regex(/^[^=\s]+$/, 'no "=" or spaces'),
    value: z.string().optional(),
    valueFrom: valueSourceSchema.optional(),
    secret: z.boolean().optional(),
  })
  .superRefine((variable, ctx) => {
    if ((variable.value === undefined) === (variable.valueFrom === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: 'give exactly one of "value" and "valueFrom"' });
    }
  });
export type EnvironmentVariable = z.infer<typeof environmentVariableSchema>;

/** A Linux capability as Docker takes it: "NET_ADMIN" or "CAP_NET_ADMIN", any case ("ALL" adds every one). */
export const capabilitySchema = z.string().regex(/^(CAP_)?[A-Za-z][A-Za-z0-9_]*$/i, 'a capability such as "NET_BIND_SERVICE"');

export const definedLinkSchema = z.strictObject({ name: identifier, port: portNumber, kind: z.enum(['tcp', 'http']).default('tcp') });
export const requiredLinkSchema = z.strictObject({ name: identifier, alias: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a valid environment variable prefix') });

export const restartPolicySchema = z.enum(['no', 'on-failure', 'always', 'unless-stopped']);

/**
 * One component: Gantryd's fields load unchanged (the Quay example in docs/ does), with Gantry's
 * additions after them. Durations at this level are milliseconds, as Gantryd's `readyTimeout`.
 */
export const componentSchema = z.strictObject({
  name: identifier,
  repo: z.string().min(1).regex(/^[^\s@:]+(:\d+)?(\/[^\s@:]+)*$/, 'an image repository such as "quay.io/org/app" (tag and digest go in "tag" and "digest")'),
  tag: z.string().regex(/^[\w][\w.-]{0,127}$/, 'a Docker tag').default('latest'),
  command: z.array(z.string()).default([]),
  user: z.string().default(''),
  ports: z.array(portMappingSchema).default([]),
  bindings: z.array(bindingSchema).default([]),
  volumesFrom: z.array(z.string().min(1)).default([]),
  readyChecks: z.array(checkSchema).default([]),
  healthChecks: z.array(checkSchema).default([]),
  readyTimeout: milliseconds.default(10_000),
  terminationSignals: z.array(terminationSignalSchema).default([]),
  terminationChecks: z.array(terminationCheckSchema).default([{ kind: 'connection', timeout: 3, retries: 3 }]),
  privileged: z.boolean().default(false),
  environmentVariables: z.array(environmentVariableSchema).default([]),
  defineComponentLinks: z.array(definedLinkSchema).default([]),
  requireComponentLinks: z.array(requiredLinkSchema).default([]),

  // Gantry's additions.
  /** Pin the image: "sha256:<64 hex>". The pulled image must match it. */
  digest: z.string().regex(/^sha256:[a-f0-9]{64}$/, 'a digest "sha256:" followed by 64 hex digits').optional(),
  /** How long a replaced container may keep live connections before they are closed. */
  drainTimeout: milliseconds.default(30_000),
  /** Grace between the stop signal and SIGKILL when a container is stopped. */
  stopTimeout: milliseconds.default(10_000),
  labels: z.record(z.string(), z.string()).default({}),
  restartPolicy: restartPolicySchema.default('unless-stopped'),
  memory: memoryBytes.optional(),
  cpus: z.number().positive().max(1024).optional(),
  /** Consecutive failed health-check rounds before the agent replaces the container. */
  healthFailureThreshold: z.number().int().min(1).default(3),
  /** Linux capabilities added to the container (Docker's HostConfig.CapAdd); each must be allowed by the host's policy. */
  capAdd: z.array(capabilitySchema).default([]),
});
export type Component = z.infer<typeof componentSchema>;
/** What a config file may say: defaults not yet applied. */
export type ComponentInput = z.input<typeof componentSchema>;

/** "repo:tag", or "repo@digest" when pinned. */
export function imageReference(component: Pick<Component, 'repo' | 'tag' | 'digest'>, tag = component.tag): string {
  return component.digest && tag === component.tag ? `${component.repo}@${component.digest}` : `${component.repo}:${tag}`;
}

/** Every container port the agent must reach: served ports, check ports and link ports. */
export function containerPorts(component: Component): number[] {
  const ports = new Set<number>();
  for (const p of component.ports) ports.add(p.container);
  for (const c of [...component.readyChecks, ...component.healthChecks, ...component.terminationChecks, ...component.terminationSignals]) {
    if ('port' in c) ports.add(c.port);
  }
  for (const l of component.defineComponentLinks) ports.add(l.port);
  return [...ports].sort((a, b) => a - b);
}
