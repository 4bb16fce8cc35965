import { describeViolation, evaluateComponent, type PolicyViolation, type ProjectConfig, type ProtectedPath } from '@gantry/spec';
import type { LoadedPolicy } from './load-policy';
import { resolveHostPath } from './resolve-host-path';

/** What the engine asks before it runs a component on this host. */
export interface ComponentAdmission {
  /** Why this host refuses `config`'s component `name` (every violation, with its field), or undefined: it may run here. */
  refusal(config: ProjectConfig, name: string): string | undefined;
}

/** The Docker socket's path on this host, from a Docker host address (`unix:///…`, a path); undefined for TCP. */
export function dockerSocketPath(dockerHost = process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock'): string | undefined {
  if (dockerHost.startsWith('unix://')) return dockerHost.slice('unix://'.length);
  return dockerHost.startsWith('/') ? dockerHost : undefined;
}

/**
 * This host's policy, applied: each component judged with symlinks resolved on this host, and
 * with this agent's own Docker socket and state directory protected wherever they are. The
 * policy can be replaced at run time (SIGHUP); each judgement uses the one current then.
 */
export class HostAdmission implements ComponentAdmission {
  private readonly extraProtected: ProtectedPath[];
  private readonly resolvePath: (path: string) => string;

  constructor(
    private loaded: LoadedPolicy,
    opts: { dockerHost?: string; stateDir?: string; resolvePath?: (path: string) => string } = {},
  ) {
    this.resolvePath = opts.resolvePath ?? ((path: string) => resolveHostPath(path));
    const socket = dockerSocketPath(opts.dockerHost);
    this.extraProtected = [
      ...(socket ? [{ path: socket, why: "this host's Docker socket" }] : []),
      ...(opts.stateDir ? [{ path: opts.stateDir, why: "gantryd's state: HAProxy's config" }] : []),
    ];
  }

  get source(): string {
    return this.loaded.source;
  }

  /** A new policy from now on (the caller re-runs what it refused). */
  replace(loaded: LoadedPolicy): void {
    this.loaded = loaded;
  }

  violations(config: ProjectConfig, name: string): PolicyViolation[] {
    const index = config.components.findIndex((c) => c.name === name);
    if (index < 0) return [];
    return evaluateComponent(config.components[index], index, this.loaded.policy, { resolvePath: this.resolvePath, extraProtected: this.extraProtected });
  }

  refusal(config: ProjectConfig, name: string): string | undefined {
    const found = this.violations(config, name);
    return found.length === 0 ? undefined : `refused by this host's policy (${this.loaded.source}): ${found.map(describeViolation).join('; ')}`;
  }
}
