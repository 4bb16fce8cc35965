import { selectsHost, valueOf, type Component, type KeyLayout, type MaintenanceStatus, type ProjectConfig, type RecordSource } from '@gantry/spec';
import { componentFrontends } from '../engine/frontends';
import type { MaintenanceAnswer } from '../proxy/maintenance-maps';
import type { KeyProblem } from './desired-state';

/** What this host's proxy should answer 503 for, and what each component's status says of it. */
export interface MaintenancePlan {
  /** Frontend name → the answer: every http frontend of a component in maintenance here. */
  answers: Record<string, MaintenanceAnswer>;
  /** Each component of the config: its maintenance on this host, or undefined where it serves. */
  components: Map<string, MaintenanceStatus | undefined>;
  /** Values under `maintenance/` that cannot be acted on, each naming its key. */
  problems: KeyProblem[];
}

export interface MaintenanceHost {
  hostId: string;
  labels: Record<string, string>;
}

/**
 * Which of the config's components are in maintenance on this host: those whose
 * `maintenance/<component>` value is valid and selects the host. Pure and total. A value that
 * is invalid is never acted on: the component's frontends keep answering as they did (`applied`,
 * what the proxy answers now), whether that was 503 or its containers.
 */
export function planMaintenance(keys: KeyLayout, project: string, host: MaintenanceHost, records: RecordSource, config: ProjectConfig, applied: Readonly<Record<string, MaintenanceAnswer>>): MaintenancePlan {
  const plan: MaintenancePlan = { answers: {}, components: new Map(), problems: [] };
  const inConfig = new Set(config.components.map((c) => c.name));
  for (const component of config.components) {
    const key = keys.maintenance(project, component.name);
    const record = records.get(key);
    const frontends = componentFrontends(component, '');
    const http = frontends.filter((f) => f.mode === 'http');
    const ports = { httpPorts: http.map((f) => f.port), tcpPorts: frontends.filter((f) => f.mode === 'tcp').map((f) => f.port) };
    if (record?.problem !== undefined) {
      plan.problems.push({ key, reason: `${record.problem}; ${component.name} answers as it did until the value is fixed or deleted` });
      for (const f of http) if (applied[f.name] !== undefined) plan.answers[f.name] = applied[f.name]!;
      plan.components.set(component.name, appliedMaintenance(component, applied));
      continue;
    }
    const value = valueOf(record, 'maintenance');
    if (!value || !selectsHost(value.hosts, host)) {
      plan.components.set(component.name, undefined);
      continue;
    }
    const answer: MaintenanceAnswer = { message: value.message, since: value.since, ...(value.holdSeconds !== undefined && { holdSeconds: value.holdSeconds }) };
    for (const f of http) plan.answers[f.name] = answer;
    plan.components.set(component.name, statusOf(answer, ports));
  }
  // Invalid keys of components the config does not have (or of no valid component at all).
  for (const [key, record] of records.entries(keys.maintenancePrefix(project))) {
    const ref = record.ref;
    const ours = ref?.kind === 'maintenance' && inConfig.has(ref.component);
    if (record.problem !== undefined && !ours) plan.problems.push({ key, reason: record.problem });
  }
  return plan;
}

/** What `applied` (the proxy's answers now) means for one component's status: its http frontends answering 503, if any. */
export function appliedMaintenance(component: Component, applied: Readonly<Record<string, MaintenanceAnswer>>): MaintenanceStatus | undefined {
  const frontends = componentFrontends(component, '');
  const kept = frontends.filter((f) => f.mode === 'http' && applied[f.name] !== undefined);
  if (kept.length === 0) return undefined;
  return statusOf(applied[kept[0]!.name]!, { httpPorts: kept.map((f) => f.port), tcpPorts: frontends.filter((f) => f.mode === 'tcp').map((f) => f.port) });
}

function statusOf(answer: MaintenanceAnswer, ports: Pick<MaintenanceStatus, 'httpPorts' | 'tcpPorts'>): MaintenanceStatus {
  return { message: answer.message, since: answer.since, ...(answer.holdSeconds !== undefined && { holdSeconds: answer.holdSeconds }), ...ports };
}
