import { assignBatches, recordsOf, selectsHost, type ComponentStatus, type KeyLayout, type RecordSource, type RolloutRequest } from '@gantry/spec';
import { renderTable } from '../table';

/**
 * The pure half of `gantry deploy --plan` (Nomad's `job plan`): what the rollout a request asks for
 * would do, from the records as read, writing nothing. The batches are cut by the coordinator's own
 * `assignBatches` over the hosts it would select (registered ones matching the selector, in id order),
 * so the plan is the rollout's, not a guess beside it.
 */

/** Why the rollout, or one host of it, would not go as planned. */
export interface PlanBlocker {
  /** absent: the whole rollout. */
  host?: string;
  kind: 'locked' | 'rollout-active' | 'no-hosts' | 'not-registered' | 'unhealthy' | 'failed' | 'refused-by-policy';
  reason: string;
}

export interface PlannedHost {
  id: string;
  batch: number;
  /** What it runs now, as its status says (absent: no status of the component). */
  current?: { version?: string; configHash?: string; phase: ComponentStatus['phase']; health?: string };
  target: { version: string; configHash?: string };
  /** False when it already runs the target version and config: its update is a no-op. */
  changes: boolean;
}

export interface DeployPlan {
  project: string;
  component: string;
  toVersion: string;
  configHash?: string;
  policy: RolloutRequest['policy'];
  batches: { batch: number; canary: boolean; hosts: PlannedHost[] }[];
  blockers: PlanBlocker[];
}

export interface PlanInput {
  keys: KeyLayout;
  project: string;
  request: RolloutRequest;
  /** Records under the project's hosts prefix. */
  hosts: RecordSource;
  /** A lock held by someone else, described (see describeLock). */
  lockedBy?: string;
  /** The active rollout of the component, if any. */
  activeRollout?: string;
}

/** A policy refusal, as the agent words it in its status (host-admission). */
const POLICY_REFUSAL = /not allowed by this host's policy/;

export function planRollout(input: PlanInput): DeployPlan {
  const { keys, project, request, hosts } = input;
  const component = request.component;
  const policy = request.policy;
  const blockers: PlanBlocker[] = [];
  if (input.lockedBy) blockers.push({ kind: 'locked', reason: input.lockedBy });
  if (input.activeRollout) blockers.push({ kind: 'rollout-active', reason: `a rollout of ${component} is already active: ${input.activeRollout}` });

  const prefix = keys.hostsPrefix(project);
  const registered = [...recordsOf(hosts, 'registration', prefix)].filter((r) => r.ref.project === project).map((r) => r.value);
  const statuses = new Map<string, ComponentStatus>();
  for (const s of recordsOf(hosts, 'status', prefix)) if (s.ref.project === project && s.ref.component === component) statuses.set(s.ref.host, s.value);

  const selected = registered.filter((r) => selectsHost(policy.hosts, r)).map((r) => r.hostId).sort();
  if (selected.length === 0) blockers.push({ kind: 'no-hosts', reason: 'no registered host matches the selector: the rollout would fail at once' });
  // Hosts the selector names, or that ran the component, but whose agent is not registered: left out.
  const registeredIds = new Set(registered.map((r) => r.hostId));
  const named = 'ids' in policy.hosts ? policy.hosts.ids : [];
  for (const id of new Set([...named, ...('all' in policy.hosts ? statuses.keys() : [])])) {
    if (!registeredIds.has(id)) blockers.push({ host: id, kind: 'not-registered', reason: `${id} is not registered (its agent is not running or cannot reach etcd): the rollout would leave it out` });
  }

  const cut = assignBatches(selected, policy);
  const planned: PlannedHost[] = cut.hosts.map(({ id, batch }) => {
    const status = statuses.get(id);
    const target = { version: request.toVersion, ...(request.configHash !== undefined && { configHash: request.configHash }) };
    if (status?.health?.state === 'unhealthy') blockers.push({ host: id, kind: 'unhealthy', reason: `${id} is unhealthy now (failing: ${status.health.failing.join(', ') || 'checks'})` });
    else if (status?.phase === 'failed') blockers.push({ host: id, kind: 'failed', reason: `${id}: its last update failed: ${status.lastError?.reason ?? 'no reason given'}` });
    if (status?.lastError && POLICY_REFUSAL.test(status.lastError.reason)) blockers.push({ host: id, kind: 'refused-by-policy', reason: `${id} refused the component: ${status.lastError.reason}` });
    const current = status && {
      ...(status.version !== undefined && { version: status.version }),
      ...(status.configHash !== undefined && { configHash: status.configHash }),
      phase: status.phase,
      ...(status.health && { health: status.health.state }),
    };
    const changes = !(status?.phase === 'running' && status.version === target.version && (target.configHash === undefined || status.configHash === target.configHash));
    return { id, batch, ...(current && { current }), target, changes };
  });
  const batches = Array.from({ length: cut.batches }, (_, batch) => ({ batch, canary: policy.canary > 0 && batch === 0, hosts: planned.filter((h) => h.batch === batch) }));
  return { project, component, toVersion: request.toVersion, ...(request.configHash !== undefined && { configHash: request.configHash }), policy, batches, blockers };
}

export const PLAN_HEADER = ['BATCH', 'HOST', 'CURRENT', 'TARGET', 'CHANGE', 'BLOCKED BY'];

const versionText = (v: { version?: string; configHash?: string } | undefined) => (v?.version ? `${v.version}${v.configHash ? ` (${v.configHash})` : ''}` : '-');

/** The plan as an operator reads it: one row per host in rollout order, then what blocks it. */
export function planLines(plan: DeployPlan): string[] {
  const hostBlockers = (id: string) => plan.blockers.filter((b) => b.host === id).map((b) => b.kind).join(', ') || '-';
  const rows = plan.batches.flatMap((b) =>
    b.hosts.map((h) => [`${b.batch + 1}${b.canary ? ' (canary)' : ''}`, h.id, versionText(h.current), versionText(h.target), h.changes ? 'update' : 'none', hostBlockers(h.id)]),
  );
  const changing = plan.batches.reduce((n, b) => n + b.hosts.filter((h) => h.changes).length, 0);
  const hostCount = plan.batches.reduce((n, b) => n + b.hosts.length, 0);
  return [
    `plan: ${plan.component} of ${plan.project} to ${versionText({ version: plan.toVersion, configHash: plan.configHash })}: ${plan.batches.length} batch(es), ${hostCount} host(s), ${changing} to update; nothing written`,
    '',
    ...(rows.length ? [renderTable(PLAN_HEADER, rows)] : ['no host would take part']),
    ...(plan.blockers.length ? ['', 'blocked:', ...plan.blockers.map((b) => `  ${b.kind}: ${b.reason}`)] : ['', 'nothing blocks it']),
  ];
}
