import type { Component } from './component';
import type { ProjectConfig } from './config';
import { PROTECTED_HOST_PATHS, type BindRule, type HostPolicy, type ProtectedPath } from './host-policy';
import { isAtOrUnder, normalizeHostPath, pathsOverlap } from './host-path';
import { qualifiedRepository, repositoryAllowed } from './image-registry';
import { jsonPath } from './validation';

/** Which part of the policy a component broke. */
export type PolicyRule = 'privileged' | 'bindings' | 'volumesFrom' | 'capAdd' | 'registries' | 'secretFiles';

/** One thing a host's policy refuses in a component: where in the config (`components[0].bindings[1].external`), which rule, and what. */
export interface PolicyViolation {
  path: string;
  rule: PolicyRule;
  message: string;
}

export interface PolicyEvaluationOptions {
  /**
   * Follows symlinks: an absolute path as written (`..` included: after a symlink it climbs from
   * where the link leads, as the kernel walks it) → the path it really names. The agent resolves
   * on the host (realpath of the longest existing ancestor); without it (the CLI, off the host)
   * paths are judged as written, normalized.
   */
  resolvePath?: (path: string) => string;
  /** Protected beside PROTECTED_HOST_PATHS: the agent's own Docker socket and state directory. */
  extraProtected?: readonly ProtectedPath[];
}

/**
 * What stands for `{container_id}` while judging a bind. The real value is 6 or more hex digits:
 * never a "/" or a "." and never spelling a protected name, so any id judges the same.
 */
const PLACEHOLDER_STAND_IN = '0a0a0a0a0a0a';

export const describeViolation = (v: PolicyViolation): string => `${v.path}: ${v.message}`;

const NOT_ALLOWED = "is not allowed by this host's policy";

/** The canonical spelling Docker accepts either way: "cap_net_admin" → "NET_ADMIN". */
const capabilityName = (cap: string): string => cap.toUpperCase().replace(/^CAP_/, '');

/** A path as written (normalized) and what it resolves to, each once; the resolved one last. */
function forms(path: string, resolve: (p: string) => string): string[] {
  const lexical = normalizeHostPath(path);
  const resolved = normalizeHostPath(resolve(path));
  return resolved === lexical ? [lexical] : [lexical, resolved];
}

/**
 * Judges one host path for a bind. The real mount is what the path resolves to, so that must be
 * covered by a rule; a protected path is refused if either spelling overlaps either of its own
 * (binding `/var` exposes `/var/lib/docker`; `/tmp/link` → `/` exposes everything), unless a
 * rule at or under that protected path covers the bind: naming `/etc/ssl/certs` opens it, `/` does not.
 */
function judgeBind(hostPath: string, readOnly: boolean, policy: HostPolicy, protectedPaths: readonly ProtectedPath[], resolve: (p: string) => string): string | undefined {
  const candidates = forms(hostPath, resolve);
  const real = candidates[candidates.length - 1];
  const shown = real === hostPath ? hostPath : `${hostPath} (resolves to ${real})`;
  const rules = policy.bindings;
  const covering = (rules ?? []).filter((rule) => (readOnly || !rule.readOnly) && forms(rule.path, resolve).some((f) => isAtOrUnder(real, f)));
  if (rules !== undefined && covering.length === 0) {
    const underReadOnly = rules.some((rule) => forms(rule.path, resolve).some((f) => isAtOrUnder(real, f)));
    return underReadOnly ? `${shown} may only be bound read-only on this host (set "readOnly": true)` : `${shown} ${NOT_ALLOWED} (not under any allowed bind path)`;
  }
  const opened = (protForms: string[]) => covering.some((rule: BindRule) => forms(rule.path, resolve).some((f) => protForms.some((p) => isAtOrUnder(f, p))));
  // The protected path the bind is in says most; else the first one it contains.
  for (const prot of protectedPaths) {
    const protForms = forms(prot.path, resolve);
    if (candidates.some((c) => protForms.some((p) => isAtOrUnder(c, p))) && !opened(protForms)) return `${shown} ${NOT_ALLOWED} (${prot.why}: ${prot.path})`;
  }
  for (const prot of protectedPaths) {
    const protForms = forms(prot.path, resolve);
    if (candidates.some((c) => protForms.some((p) => pathsOverlap(c, p))) && !opened(protForms)) return `${shown} ${NOT_ALLOWED} (it contains ${prot.path}: ${prot.why})`;
  }
  return undefined;
}

/** Every violation of `policy` by `component`, the config's `components[index]`; none: the host may run it. Pure, given `resolvePath`. */
export function evaluateComponent(component: Component, index: number, policy: HostPolicy, opts: PolicyEvaluationOptions = {}): PolicyViolation[] {
  const resolve = opts.resolvePath ?? ((p: string) => p);
  const protectedPaths = [...(opts.extraProtected ?? []), ...PROTECTED_HOST_PATHS];
  const at = (...path: PropertyKey[]) => jsonPath(['components', index, ...path]);
  const out: PolicyViolation[] = [];

  if (component.privileged && !policy.privileged) out.push({ path: at('privileged'), rule: 'privileged', message: `privileged containers are not allowed by this host's policy (root on the host)` });

  if (policy.registries !== undefined && !policy.registries.some((allowed) => repositoryAllowed(component.repo, allowed))) {
    const { registry } = qualifiedRepository(component.repo);
    out.push({ path: at('repo'), rule: 'registries', message: `${component.repo} (registry ${registry}) ${NOT_ALLOWED} (allowed: ${policy.registries.join(', ') || 'none'})` });
  }

  component.bindings.forEach((binding, j) => {
    // Not a path: a named Docker volume, which lives in Docker's own storage.
    if (!binding.external.startsWith('/')) return;
    const hostPath = binding.external.split('{container_id}').join(PLACEHOLDER_STAND_IN);
    const problem = judgeBind(hostPath, binding.readOnly, policy, protectedPaths, resolve);
    if (problem) out.push({ path: at('bindings', j, 'external'), rule: 'bindings', message: problem.split(hostPath).join(binding.external) });
  });

  if (!policy.volumesFrom) {
    component.volumesFrom.forEach((source, j) =>
      out.push({ path: at('volumesFrom', j), rule: 'volumesFrom', message: `volumesFrom (${source}) ${NOT_ALLOWED} (another container's mounts escape the bind rules)` }),
    );
  }

  const allowedCaps = new Set(policy.capAdd.map(capabilityName));
  component.capAdd.forEach((cap, j) => {
    if (allowedCaps.has('ALL') || (allowedCaps.has(capabilityName(cap)) && capabilityName(cap) !== 'ALL')) return;
    out.push({ path: at('capAdd', j), rule: 'capAdd', message: `capability ${capabilityName(cap)} ${NOT_ALLOWED} (allowed: ${policy.capAdd.join(', ') || 'none'})` });
  });

  component.environmentVariables.forEach((variable, k) => {
    const file = variable.valueFrom?.file;
    if (file === undefined) return;
    const candidates = forms(file, resolve);
    const real = candidates[candidates.length - 1];
    // Read as the agent's user (root): the file and what it resolves to must both be in a secrets directory.
    const inside = (p: string) => policy.secretFiles.some((dir) => forms(dir, resolve).some((d) => isAtOrUnder(p, d)));
    if (!candidates.every(inside)) {
      const shown = real === file ? file : `${file} (resolves to ${real})`;
      out.push({ path: at('environmentVariables', k, 'valueFrom', 'file'), rule: 'secretFiles', message: `${shown} ${NOT_ALLOWED} (not under a secret files directory: ${policy.secretFiles.join(', ') || 'none'})` });
    }
  });
  return out;
}

/** Every violation of `policy` by any component of `config`. */
export function evaluateConfig(config: ProjectConfig, policy: HostPolicy, opts: PolicyEvaluationOptions = {}): PolicyViolation[] {
  return config.components.flatMap((component, i) => evaluateComponent(component, i, policy, opts));
}
