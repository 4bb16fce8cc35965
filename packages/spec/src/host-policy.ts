import { z } from 'zod';
import { capabilitySchema } from './component';

/** Where gantryd reads its host's policy unless told (`--policy PATH`). */
export const DEFAULT_POLICY_PATH = '/etc/gantry/policy.json';

/** Where `valueFrom.file` may read unless the policy says otherwise. */
export const DEFAULT_SECRET_DIR = '/etc/gantry/secrets/';

const absolutePath = z.string().startsWith('/', 'must be an absolute path');

/** Host paths a component may bind: at or under `path`; with `readOnly` (the default) only read-only. */
export const bindRuleSchema = z.strictObject({
  path: absolutePath,
  readOnly: z.boolean().default(true),
});
export type BindRule = z.infer<typeof bindRuleSchema>;

/**
 * What this host lets a component do, whatever the config in etcd asks: anyone who can write the
 * config must not get root on the host from it. Every field has a default that refuses what gives
 * root, so `{}` (or no policy file at all) is the safe policy.
 */
export const hostPolicySchema = z.strictObject({
  /** `privileged: true` components: root on the host, every device. */
  privileged: z.boolean().default(false),
  /**
   * Host network. Components cannot ask for it (the engine runs versions side by side on
   * ephemeral ports, which the host network cannot): kept so that a policy states it and a
   * future component field is refused by default.
   */
  hostNetwork: z.boolean().default(false),
  /** Capabilities a component may add (`capAdd`); "ALL" allows every one. */
  capAdd: z.array(capabilitySchema).default([]),
  /**
   * Where images may come from: a registry ("quay.io", "127.0.0.1:5000", "docker.io") or a
   * repository prefix in one ("quay.io/myorg"). Absent: any registry.
   */
  registries: z.array(z.string().min(1)).optional(),
  /**
   * Host paths that may be bound. Absent: any path but the protected system paths. Present: only
   * these; a protected path (or a path under it) only when a rule names it or a path under it.
   */
  bindings: z.array(bindRuleSchema).optional(),
  /** `volumesFrom`: another container's mounts, binds included, which no bind rule sees. */
  volumesFrom: z.boolean().default(false),
  /** Directories `environmentVariables[].valueFrom.file` may read from. */
  secretFiles: z.array(absolutePath).default([DEFAULT_SECRET_DIR]),
});
export type HostPolicy = z.infer<typeof hostPolicySchema>;
export type HostPolicyInput = z.input<typeof hostPolicySchema>;

/** The policy of a host without a policy file. */
export const defaultHostPolicy = (): HostPolicy => hostPolicySchema.parse({});

/** A host path whose bind gives root on the host (or the fleet), and why. */
export interface ProtectedPath {
  path: string;
  why: string;
}

const sockets = 'runtime sockets: Docker, containerd, systemd';
const programs = 'system programs and libraries, run as root';

/**
 * Host paths never bound unless a policy rule names them: each gives root on the host (or on
 * the fleet) to whoever writes there, most even read-only (a socket, keys, the kernel's files).
 * `/` is not listed: it overlaps every one of them. The agent adds its own Docker socket and
 * state directory, wherever they are.
 */
export const PROTECTED_HOST_PATHS: readonly ProtectedPath[] = [
  { path: '/var/run/docker.sock', why: 'Docker socket' },
  { path: '/run/docker.sock', why: 'Docker socket' },
  { path: '/etc/gantry', why: "gantryd's policy and secrets" },
  { path: '/etc', why: 'host configuration: users, sudoers, cron, systemd units' },
  { path: '/root', why: "root's home: ssh keys" },
  { path: '/boot', why: 'kernel and boot loader' },
  { path: '/proc', why: "the kernel's interfaces" },
  { path: '/sys', why: "the kernel's and devices' interfaces" },
  { path: '/dev', why: 'devices: raw disks, memory' },
  { path: '/run', why: sockets },
  { path: '/var/run', why: sockets },
  { path: '/var/lib/docker', why: "Docker's storage: every container's files" },
  { path: '/var/lib/containerd', why: "containerd's storage: every container's files" },
  { path: '/var/lib/etcd', why: "etcd's data: every host's config" },
  { path: '/var/lib/gantry', why: "gantryd's state: HAProxy's config" },
  { path: '/var/spool/cron', why: 'cron jobs, run as root' },
  { path: '/usr', why: programs },
  { path: '/bin', why: programs },
  { path: '/sbin', why: programs },
  { path: '/lib', why: programs },
  { path: '/lib32', why: programs },
  { path: '/lib64', why: programs },
  { path: '/libx32', why: programs },
];
