import {
  batchCount,
  selectsHost,
  type ComponentStatus,
  type DesiredVersion,
  type HostRegistration,
  type KeyLayout,
  type RolloutControl,
  type RolloutHistoryEntry,
  type RolloutRequest,
  type RolloutState,
} from '@gantry/spec';

export type RolloutHost = RolloutState['hosts'][number];

/** One etcd write: a put, or a delete when `value` is undefined. */
export interface PlannedWrite {
  key: string;
  value?: string;
}

export interface PlanInput {
  keys: KeyLayout;
  project: string;
  request: RolloutRequest;
  /** The stored state, if any (none: this is the first step). */
  state?: RolloutState;
  /** The latest control; ignored unless it names this rollout. */
  control?: RolloutControl;
  /** Live registrations by host id. */
  registrations: Map<string, HostRegistration>;
  /** This component's status by host id. */
  statuses: Map<string, ComponentStatus>;
  /** This component's host-desired values by host id. */
  hostDesired: Map<string, DesiredVersion>;
  /** This component's fleet-desired value. */
  fleetDesired?: DesiredVersion;
  now: Date;
  /** Who plans (written into the state). */
  coordinator?: string;
}

export interface PlanStep {
  state: RolloutState;
  /** Empty when nothing changed (the stored state is current). */
  writes: PlannedWrite[];
  /** The rollout is over: the writes move it to history. */
  finished: boolean;
}

const ms = (iso: string | undefined): number => (iso === undefined ? NaN : Date.parse(iso));

/** A host may count as ready: it serves the target version, running and not unhealthy. */
function runsReady(status: ComponentStatus | undefined, version: string): boolean {
  return status !== undefined && status.phase === 'running' && status.version === version && status.health?.state !== 'unhealthy';
}

/** The host's agent gave up on the target version. */
function failure(status: ComponentStatus | undefined, version: string): string | undefined {
  if (!status || status.targetVersion !== version) return undefined;
  if (status.phase === 'failed') return status.lastError?.reason ?? `update to ${version} failed`;
  if (status.lastError) return status.lastError.reason;
  return undefined;
}

/** The state without its timestamp of writing, to tell whether anything changed. */
const signature = (s: RolloutState | undefined): string => (s === undefined ? '' : JSON.stringify({ ...s, updatedAt: undefined, coordinator: undefined }));

/**
 * One step of a rolling update: from the request, the stored state, the operator's control and
 * what the fleet reports, the next state and the etcd writes that go with it. Pure: the caller
 * applies `writes` atomically (with the state) or not at all.
 */
export function planStep(input: PlanInput): PlanStep {
  const { keys, project, request, now } = input;
  const component = request.component;
  const at = now.toISOString();
  const policy = request.policy;
  const to = request.toVersion;
  const writes: PlannedWrite[] = [];
  const control = input.control?.rollout === request.id ? input.control : undefined;
  const hostKey = (id: string) => keys.hostDesired(project, id, component);
  const desired = (version: string): string => JSON.stringify({ version, state: 'running', setBy: `rollout ${request.id}`, setAt: at, rollout: request.id } satisfies DesiredVersion);

  let state: RolloutState;
  if (input.state && input.state.rollout === request.id) {
    state = structuredClone(input.state);
  } else {
    // First step: choose the hosts and cut them into batches.
    const selected = [...input.registrations.values()]
      .filter((r) => selectsHost(policy.hosts, r))
      .map((r) => r.hostId)
      .sort();
    const canary = Math.min(policy.canary, selected.length);
    const rest = selected.length - canary;
    const size = batchCount(policy.batch, selected.length);
    const hosts: RolloutHost[] = selected.map((id, i) => {
      const batch = canary > 0 ? (i < canary ? 0 : 1 + Math.floor((i - canary) / size)) : Math.floor(i / size);
      const fromVersion = input.statuses.get(id)?.version;
      return { id, batch, ...(fromVersion !== undefined && { fromVersion }), result: 'pending' };
    });
    const batches = (canary > 0 ? 1 : 0) + Math.ceil(rest / size);
    state = { rollout: request.id, state: 'running', hosts, batches, currentBatch: 0, startedAt: at, updatedAt: at };
    if (selected.length === 0) {
      state.state = 'failed';
      state.message = 'no registered host matches the selector';
    }
  }
  const before = input.state?.rollout === request.id ? signature(input.state) : '';

  const startRollback = (why: string) => {
    state.state = 'rolling-back';
    state.pausedBy = undefined;
    state.message = why;
    for (const h of state.hosts) {
      if (!['updating', 'ready', 'done', 'failed'].includes(h.result)) continue;
      if (h.fromVersion !== undefined) {
        writes.push({ key: hostKey(h.id), value: desired(h.fromVersion) });
        h.result = 'rolling-back';
      } else {
        writes.push({ key: hostKey(h.id) });
        h.result = 'rolled-back';
      }
      h.readySince = undefined;
    }
  };

  // The operator's instruction.
  const active = state.state === 'running' || state.state === 'paused';
  if (control && active) {
    if (control.action === 'abort') {
      state.state = 'aborted';
      state.pausedBy = undefined;
      state.message = `aborted by ${control.by}`;
    } else if (control.action === 'rollback') {
      startRollback(`rollback asked by ${control.by}`);
    } else if (control.action === 'pause' && state.state === 'running') {
      state.state = 'paused';
      state.pausedBy = 'operator';
    } else if (control.action === 'resume' && state.state === 'paused') {
      if (state.pausedBy === 'operator') {
        state.state = 'running';
        state.pausedBy = undefined;
      } else {
        // Only a resume given after the canary batch finished releases it.
        const canaryDone = Math.max(...state.hosts.filter((h) => h.batch === 0).map((h) => ms(h.finishedAt)));
        if (!(ms(control.at) < canaryDone)) {
          state.state = 'running';
          state.pausedBy = undefined;
        }
      }
    }
  }

  // What the hosts report.
  for (const h of state.hosts) {
    const status = input.statuses.get(h.id);
    if (h.result === 'updating' || h.result === 'ready') {
      const failed = failure(status, to);
      if (failed !== undefined) {
        h.result = 'failed';
        h.error = failed;
        h.finishedAt = at;
        continue;
      }
      if (runsReady(status, to)) {
        if (h.result === 'updating') {
          h.result = 'ready';
          h.readySince = at;
        }
        if (now.getTime() - ms(h.readySince) >= policy.minReadySeconds * 1000) {
          h.result = 'done';
          h.finishedAt = at;
          continue;
        }
      } else if (h.result === 'ready') {
        h.result = 'updating';
        h.readySince = undefined;
      }
      if (now.getTime() - ms(h.startedAt) > policy.progressDeadlineSeconds * 1000) {
        h.result = 'failed';
        h.error = `not done within ${policy.progressDeadlineSeconds} s`;
        h.finishedAt = at;
      }
    } else if (h.result === 'rolling-back') {
      if (status?.phase === 'running' && status.version === h.fromVersion) {
        h.result = 'rolled-back';
        h.finishedAt = at;
      }
    }
  }

  // Advance.
  if ((state.state === 'running' || state.state === 'paused') && state.hosts.some((h) => h.result === 'failed')) {
    const bad = state.hosts.filter((h) => h.result === 'failed').map((h) => `${h.id}: ${h.error ?? 'failed'}`);
    if (policy.autoRollback) startRollback(`failed (${bad.join('; ')}); rolling back`);
    else {
      state.state = 'failed';
      state.pausedBy = undefined;
      state.message = `failed: ${bad.join('; ')}`;
    }
  }
  if (state.state === 'running' || state.state === 'paused') {
    // A batch done moves the rollout on (paused: no new batch starts).
    while (state.currentBatch < state.batches && state.hosts.filter((h) => h.batch === state.currentBatch).every((h) => h.result === 'done')) {
      state.currentBatch++;
      if (state.currentBatch === 1 && policy.canary > 0 && state.batches > 1 && state.state === 'running') {
        state.state = 'paused';
        state.pausedBy = 'canary';
        break;
      }
      if (state.state === 'paused') break;
    }
    if (state.currentBatch >= state.batches) {
      const fleetWide = 'all' in policy.hosts;
      if (fleetWide && input.fleetDesired?.version !== to) {
        // First the fleet's version, and only once it is stored the host keys go (next step):
        // an agent never sees its host key gone before the fleet's new version.
        writes.push({ key: keys.fleetDesired(project, component), value: desired(to) });
        state.state = 'running';
        state.pausedBy = undefined;
        state.message = `all hosts done; setting the fleet version to ${to}`;
      } else {
        state.state = 'succeeded';
        state.pausedBy = undefined;
        state.message = `${state.hosts.length} host(s) on ${to}`;
        if (fleetWide) for (const h of state.hosts) writes.push({ key: hostKey(h.id) });
      }
    } else if (state.state === 'running') {
      for (const h of state.hosts) {
        if (h.batch !== state.currentBatch || h.result !== 'pending') continue;
        writes.push({ key: hostKey(h.id), value: desired(to) });
        h.result = 'updating';
        h.startedAt = at;
      }
    }
  }
  if (state.state === 'rolling-back' && state.hosts.every((h) => h.result !== 'rolling-back')) {
    state.state = 'rolled-back';
    state.message = `${state.message ?? 'rolled back'}; every moved host is back`;
  }

  const finished = ['succeeded', 'failed', 'rolled-back', 'aborted'].includes(state.state);
  if (finished) state.finishedAt ??= at;
  state.coordinator = input.coordinator ?? state.coordinator;
  if (writes.length === 0 && signature(state) === before) return { state: input.state!, writes: [], finished: false };
  state.updatedAt = at;
  if (finished) {
    const entry: RolloutHistoryEntry = { request, state };
    writes.push({ key: keys.rolloutHistory(project, component, request.id), value: JSON.stringify(entry) });
    writes.push({ key: keys.rolloutRequest(project, component) });
    writes.push({ key: keys.rolloutControl(project, component) });
    writes.push({ key: keys.rolloutState(project, component) });
  } else {
    writes.push({ key: keys.rolloutState(project, component), value: JSON.stringify(state) });
  }
  return { state, writes, finished };
}
