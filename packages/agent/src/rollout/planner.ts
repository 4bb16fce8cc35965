import {
  assignBatches,
  isFinalRolloutState,
  rolloutPolicySchema,
  rolloutRequestSchema,
  selectsHost,
  type ComponentStatus,
  type DesiredVersion,
  type HostRegistration,
  type KeyLayout,
  type PrepullRequest,
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
  /** Only if the key still has this mod revision (0: absent); otherwise the transaction writes nothing. */
  ifModRevision?: number;
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
  registrations: ReadonlyMap<string, HostRegistration>;
  /** This component's status by host id. */
  statuses: ReadonlyMap<string, ComponentStatus>;
  /** This component's host-desired values by host id. */
  hostDesired: ReadonlyMap<string, DesiredVersion>;
  /** This component's fleet-desired value. */
  fleetDesired?: DesiredVersion;
  /** This component's prepull keys by host id (the preflight's instructions); undefined: not known, every host's is written and deleted. */
  prepulls?: ReadonlyMap<string, PrepullRequest>;
  /** This component's host-desired keys' mod revisions by host id: a status counts only once it observed the current one. */
  hostDesiredRevisions?: Pick<ReadonlyMap<string, number>, 'get'>;
  /** The mod revision of the stored control key (0 or undefined: none). */
  controlRevision?: number;
  /** The mod revision of the stored state key. */
  stateRevision?: number;
  /** Wall-clock time: written into the state for display only, never compared. */
  now: Date;
  /**
   * The coordinator's monotonic clock (ms, e.g. `performance.now()`): every wait (minReady, the
   * progress deadlines) is measured on it, from when this coordinator saw each host start.
   */
  mono: number;
  /** What this coordinator saw of this rollout (in memory): none after a failover, and then every wait restarts. */
  memory?: RolloutMemory;
  /** Who plans (written into the state). */
  coordinator?: string;
}

/**
 * What a coordinator keeps in memory of a rollout: when, on its own monotonic clock, it saw each
 * host start updating, become ready and start rolling back, and the revision of the canary pause.
 * Never stored: a new coordinator starts without it and restarts the clocks of the hosts in flight
 * from when it first sees them (a longer wait, never a shorter one).
 */
export interface RolloutMemory {
  rollout: string;
  hosts: Record<string, { since?: number; readySince?: number; rollbackSince?: number }>;
  /** The etcd revision of the write that paused the rollout after its canary batch. */
  canaryPausedRevision?: number;
  /** When this coordinator saw the preflight start (its deadline runs from there). */
  preflightSince?: number;
}

export interface PlanStep {
  state: RolloutState;
  /** Empty when nothing changed (the stored state is current). */
  writes: PlannedWrite[];
  /** The rollout is over: the writes move it to history. */
  finished: boolean;
  /** The memory to keep once the writes are applied (the coordinator fills in `canaryPausedRevision`). */
  memory: RolloutMemory;
}

/** A host may count as ready: it serves the target version (and config generation, when one is rolled), running and not unhealthy. */
function runsReady(status: ComponentStatus | undefined, version: string, configHash?: string): boolean {
  return (
    status !== undefined &&
    status.phase === 'running' &&
    status.version === version &&
    (configHash === undefined || status.configHash === configHash) &&
    status.health?.state !== 'unhealthy'
  );
}

/** The host's agent gave up on the target version. */
function failure(status: ComponentStatus | undefined, version: string): string | undefined {
  if (!status || status.targetVersion !== version) return undefined;
  // Only the agent giving up fails a host. A lastError alone can be a problem with some key (an
  // invalid config the agent works around with the last good one) or a step it retries itself.
  if (status.phase === 'failed') return status.lastError?.reason ?? `update to ${version} failed`;
  return undefined;
}

/**
 * Whether a status is about the host key a rollout wrote, at its current value (the status's
 * observed generation): the host's agent acted on it. Anything else — a status from before the
 * key was written, from an earlier rollout, or of the previous value of the key (before a
 * rollback) — says nothing about this rollout, and is never counted as done or failed.
 */
export function observesHostKey(status: ComponentStatus | undefined, rollout: string, key: string, revision: number | undefined): boolean {
  const o = status?.observed;
  if (!o || o.rollout !== rollout || o.key !== key) return false;
  // 0: the agent could not tell the revision (its records did not carry one); the rollout id must do.
  return revision === undefined || o.modRevision === 0 || o.modRevision >= revision;
}

/** `h2: not ready in time`; an error that names its host already (`host h2 lost its registration …`) as it is. */
const hostProblem = (h: RolloutHost): string => (h.error?.startsWith(`host ${h.id} `) ? h.error : `${h.id}: ${h.error ?? 'failed'}`);

/** Two flat records with the same fields and values (an absent field and an undefined one are the same). */
function sameFields(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  for (const k in a) if (a[k] !== b[k]) return false;
  for (const k in b) if (!(k in a) && b[k] !== undefined) return false;
  return true;
}

/**
 * Whether two states say the same, apart from when and by whom they were written: compared field
 * by field, never serialised (a state of a 10,000-host rollout is over a megabyte of JSON).
 */
export function sameState(a: RolloutState, b: RolloutState): boolean {
  const { hosts: ah, updatedAt: _au, coordinator: _ac, ...ar } = a;
  const { hosts: bh, updatedAt: _bu, coordinator: _bc, ...br } = b;
  if (!sameFields(ar, br) || ah.length !== bh.length) return false;
  for (let i = 0; i < ah.length; i++) if (ah[i] !== bh[i] && !sameFields(ah[i], bh[i])) return false;
  return true;
}

/**
 * A step's hosts: the stored state's list, each host copied only when the step changes it (`edit`),
 * so a pass over a 10,000-host rollout copies the hosts it judges or moves, not all of them; the
 * stored state (and the coordinator's held one) is never changed. Hosts left alone stay the same
 * objects, which lets sameState and holdsBack pass them by identity.
 */
function editableHosts(hosts: readonly RolloutHost[]): { hosts: RolloutHost[]; edit: (i: number) => RolloutHost } {
  const list = hosts.slice();
  const copied = new Set<RolloutHost>();
  const edit = (i: number): RolloutHost => {
    let h = list[i];
    if (!copied.has(h)) {
      h = { ...h };
      copied.add(h);
      list[i] = h;
    }
    return h;
  };
  return { hosts: list, edit };
}

/** A copy to change: one flat clock per host in flight (structuredClone cost a 10,000-host pass 4 ms). */
function copyMemory(m: RolloutMemory): RolloutMemory {
  const hosts: RolloutMemory['hosts'] = {};
  for (const id in m.hosts) hosts[id] = { ...m.hosts[id] };
  return { ...m, hosts };
}

/**
 * The write of a state, its JSON made when first read: most steps of a large rollout are held
 * back unwritten (see the coordinator's `stateHoldMs`), and a 10,000-host state is 1.4 MB of JSON.
 */
export function stateWrite(key: string, state: RolloutState): PlannedWrite {
  let json: string | undefined;
  return {
    key,
    get value() {
      return (json ??= JSON.stringify(state));
    },
  };
}

/** A finished rollout moves to history: its entry written, its request, control and state deleted. */
export function intoHistory(keys: KeyLayout, project: string, entry: RolloutHistoryEntry): PlannedWrite[] {
  const component = entry.request.component;
  return [
    { key: keys.rolloutHistory(project, component, entry.request.id), value: JSON.stringify(entry) },
    { key: keys.rolloutRequest(project, component) },
    { key: keys.rolloutControl(project, component) },
    { key: keys.rolloutState(project, component) },
  ];
}

/** What the preflight step shares with the rest of planStep. */
interface PreflightContext {
  writes: PlannedWrite[];
  memory: RolloutMemory;
  at: string;
  /** Host `i` of the state, to change. */
  edit: (i: number) => RolloutHost;
  lose: (i: number, while_: string) => void;
  deadlineMs: number;
}

/**
 * The preflight: every selected host pulls the new version before any is moved. Each pending host
 * is asked through its prepull key (written again whenever it is missing or names something else)
 * and answers in its status; it is judged pulled, failed (its pull failed, or no answer within the
 * progress deadline on this coordinator's clock) or lost (its registration gone: the onHostLost
 * policy). Once every host is judged, the rollout runs — or, when any failed, fails naming each of
 * them, no host moved.
 */
function preflight(input: PlanInput, state: RolloutState, ctx: PreflightContext): void {
  const { keys, project, request, mono } = input;
  const { writes, memory, at } = ctx;
  const to = request.toVersion;
  const deadlineS = request.policy.progressDeadlineSeconds;
  memory.preflightSince ??= mono; // a new coordinator: the deadline restarts (a longer wait, never a shorter one)
  const undecided = (h: RolloutHost) => h.result === 'pending' && h.prepull === undefined;
  for (let i = 0; i < state.hosts.length; i++) {
    const h = state.hosts[i];
    if (!undecided(h)) continue;
    if (!input.registrations.has(h.id)) {
      ctx.lose(i, `during the preflight, before its update to ${to}`);
      continue;
    }
    const answer = input.statuses.get(h.id)?.prepull;
    const ours = answer?.rollout === request.id && answer.version === to ? answer : undefined;
    if (ours?.state === 'pulled') {
      ctx.edit(i).prepull = 'pulled';
      continue;
    }
    if (ours?.state === 'failed' || mono - memory.preflightSince > ctx.deadlineMs) {
      const progress = ours?.progress ? `: ${ours.progress.layersDone}/${ours.progress.layersTotal} layers, ${ours.progress.bytesDone}/${ours.progress.bytesTotal} bytes` : '';
      const late = ours ? `still pulling${progress}` : 'its agent never answered (an agent without preflight, or one that cannot read its prepull key)';
      const judged = ctx.edit(i);
      judged.result = 'failed';
      judged.prepull = 'failed';
      judged.error = ours?.state === 'failed' ? `pre-pull of ${ours.image} failed: ${ours.error ?? 'unknown error'}` : `pre-pull of ${to} not done within ${deadlineS} s (${late})`;
      judged.finishedAt = at;
      continue;
    }
    const asked = input.prepulls?.get(h.id);
    if (asked?.rollout !== request.id || asked.version !== to) {
      writes.push({ key: keys.prepull(project, h.id, request.component), value: JSON.stringify({ rollout: request.id, version: to, setAt: at } satisfies PrepullRequest) });
    }
  }
  if (state.hosts.some(undecided)) return;
  memory.preflightSince = undefined;
  const failed = state.hosts.filter((h) => h.result === 'failed');
  if (failed.length > 0) {
    state.state = 'failed';
    state.message = `preflight failed, no host was moved: ${failed.map(hostProblem).join('; ')}`;
  } else {
    state.state = 'running';
    state.message = `preflight: ${state.hosts.filter((h) => h.prepull === 'pulled').length} host(s) pulled ${to}`;
  }
}

/**
 * One step of a rolling update: from the request, the stored state, the operator's control and
 * what the fleet reports, the next state and the etcd writes that go with it. Pure: the caller
 * applies `writes` atomically (with the state) or not at all.
 */
export function planStep(input: PlanInput): PlanStep {
  const { keys, project, request, now, mono } = input;
  const component = request.component;
  const at = now.toISOString();
  const policy = request.policy;
  const to = request.toVersion;
  const writes: PlannedWrite[] = [];
  const control = input.control?.rollout === request.id ? input.control : undefined;
  const hostKey = (id: string) => keys.hostDesired(project, id, component);
  const memory: RolloutMemory = input.memory?.rollout === request.id ? copyMemory(input.memory) : { rollout: request.id, hosts: {} };
  const clock = (id: string) => (memory.hosts[id] ??= {});
  const observes = (id: string) => observesHostKey(input.statuses.get(id), request.id, hostKey(id), input.hostDesiredRevisions?.get(id));
  const deadlineMs = policy.progressDeadlineSeconds * 1000;
  const desired = (version: string): string =>
    JSON.stringify({ version, state: 'running', setBy: `rollout ${request.id}`, setAt: at, rollout: request.id, ...(request.configHash !== undefined && { configHash: request.configHash }) } satisfies DesiredVersion);

  /** A selected host whose registration is gone (its lease expired) is lost: failed or skipped, per the policy. */
  const registered = (id: string) => input.registrations.has(id);
  let state: RolloutState;
  // Host `i` of the state, to change: a first step's hosts are its own, changed in place; a later
  // step's are the stored state's, copied first (editableHosts).
  let edit: (i: number) => RolloutHost = (i) => state.hosts[i];
  const lose = (i: number, while_: string) => {
    const h = edit(i);
    h.result = policy.onHostLost === 'skip' ? 'skipped' : 'failed';
    h.error = `host ${h.id} lost its registration (lease expired) ${while_}`;
    h.finishedAt = at;
    h.readySince = undefined;
    delete memory.hosts[h.id];
  };

  if (input.state && input.state.rollout === request.id) {
    const editable = editableHosts(input.state.hosts);
    state = { ...input.state, hosts: editable.hosts };
    edit = editable.edit;
  } else {
    // First step: choose the hosts and cut them into batches.
    const selected = [...input.registrations.values()]
      .filter((r) => selectsHost(policy.hosts, r))
      .map((r) => r.hostId)
      .sort();
    const cut = assignBatches(selected, policy);
    const hosts: RolloutHost[] = cut.hosts.map(({ id, batch }) => {
      const fromVersion = input.statuses.get(id)?.version;
      return { id, batch, ...(fromVersion !== undefined && { fromVersion }), result: 'pending' };
    });
    const batches = cut.batches;
    state = { rollout: request.id, state: policy.preflight ? 'preflight' : 'running', toVersion: to, hosts, batches, currentBatch: 0, startedAt: at, updatedAt: at };
    if (policy.preflight) {
      state.message = `preflight: every selected host pulls ${to} before the first batch`;
      memory.preflightSince = mono;
    }
    if (selected.length === 0) {
      state.state = 'failed';
      state.message = 'no registered host matches the selector';
    }
  }

  /** Hosts whose key this step rewrites: no status can have observed the new value yet. */
  const rewritten = new Set<string>();
  const startRollback = (why: string) => {
    state.state = 'rolling-back';
    state.pausedBy = undefined;
    state.message = why;
    for (let i = 0; i < state.hosts.length; i++) {
      const h = state.hosts[i];
      // A lost host (skipped, or failed for it) that was moved gets its previous value back for when it
      // returns, but nothing waits for it: it cannot report.
      const lostHost = h.result === 'skipped' || (h.result === 'failed' && !registered(h.id));
      if (lostHost) {
        if (h.startedAt === undefined) continue;
        writes.push(h.fromVersion !== undefined ? { key: hostKey(h.id), value: desired(h.fromVersion) } : { key: hostKey(h.id) });
        rewritten.add(h.id);
        continue;
      }
      // A host never moved (failed in the preflight) has nothing to go back to.
      if (!['updating', 'ready', 'done', 'failed'].includes(h.result) || h.startedAt === undefined) continue;
      const back = edit(i);
      if (h.fromVersion !== undefined) {
        // The version goes back; the config stays the stored one (an agent only ever has that spec):
        // a config change is undone by storing the old config and rolling it.
        writes.push({ key: hostKey(h.id), value: desired(h.fromVersion) });
        rewritten.add(h.id);
        back.result = 'rolling-back';
        back.rollbackStartedAt = at;
        clock(h.id).rollbackSince = mono;
      } else {
        writes.push({ key: hostKey(h.id) });
        back.result = 'rolled-back';
      }
      back.readySince = undefined;
    }
  };

  // The operator's instruction. Abort ends any rollout not over yet (hosts stay where they are);
  // the others apply only where they mean something (the CLI refuses them elsewhere).
  const active = state.state === 'running' || state.state === 'paused' || state.state === 'preflight';
  if (control?.action === 'abort' && (active || state.state === 'rolling-back')) {
    state.message = `aborted by ${control.by}${state.state === 'rolling-back' ? ` during the rollback (${state.message ?? 'rolling back'})` : ''}`;
    state.state = 'aborted';
    state.pausedBy = undefined;
  } else if (control && active) {
    if (control.action === 'rollback') {
      startRollback(`rollback asked by ${control.by}`);
    } else if (control.action === 'pause' && state.state === 'running') {
      state.state = 'paused';
      state.pausedBy = 'operator';
    } else if (control.action === 'resume' && state.state === 'paused') {
      // After the canary batch, only a resume written after the pause releases it: etcd's order
      // (revisions), never a timestamp. Without memory of the pause (a new coordinator), the
      // state's own revision stands in for it: a resume written before that waits for another.
      const pausedAt = memory.canaryPausedRevision ?? input.stateRevision ?? Number.POSITIVE_INFINITY;
      if (state.pausedBy === 'operator' || (input.controlRevision ?? 0) > pausedAt) {
        state.state = 'running';
        state.pausedBy = undefined;
      }
    }
  }

  if (state.state === 'preflight') preflight(input, state, { writes, memory, at, edit, lose, deadlineMs });

  // What the hosts report, from statuses that observed the host key this rollout wrote; every wait
  // on this coordinator's clock.
  const moving = state.state === 'running' || state.state === 'paused';
  for (let i = 0; i < state.hosts.length; i++) {
    const result = state.hosts[i].result;
    // Only hosts in flight have anything to judge (and a clock): a step costs little per host at rest.
    if (result !== 'updating' && result !== 'ready' && result !== 'rolling-back') continue;
    const h = edit(i);
    const status = input.statuses.get(h.id);
    if ((h.result === 'updating' || h.result === 'ready') && moving && !registered(h.id)) {
      // Its agent is gone or cut off from etcd for a lease TTL: no status will come, so not waiting for the deadline.
      lose(i, `while updating to ${to}`);
      continue;
    }
    if (h.result === 'rolling-back' && state.state === 'rolling-back' && !registered(h.id)) {
      lose(i, `while rolling back to ${h.fromVersion ?? 'its previous version'}`);
      continue;
    }
    const c = clock(h.id);
    if (h.result === 'updating' || h.result === 'ready') {
      c.since ??= mono;
      const observed = observes(h.id);
      const failed = observed ? failure(status, to) : undefined;
      if (failed !== undefined) {
        h.result = 'failed';
        h.error = failed;
        h.finishedAt = at;
        continue;
      }
      if (observed && runsReady(status, to, request.configHash)) {
        if (h.result === 'updating') {
          h.result = 'ready';
          h.readySince = at;
          c.readySince = mono;
        }
        c.readySince ??= mono;
        if (mono - c.readySince >= policy.minReadySeconds * 1000) {
          h.result = 'done';
          h.finishedAt = at;
          // The wait is over: finishedAt says when. (Also keeps a 10,000-host state under etcd's 1.5 MiB request limit.)
          h.readySince = undefined;
          delete memory.hosts[h.id];
          continue;
        }
      } else if (h.result === 'ready') {
        h.result = 'updating';
        h.readySince = undefined;
        c.readySince = undefined;
      }
      if (mono - c.since > deadlineMs) {
        const pin = input.hostDesired.get(h.id);
        const foreign = pin?.rollout !== request.id ? ` (its host key ${pin ? `now says ${pin.version}, set by ${pin.setBy ?? 'someone else'}` : 'was deleted'})` : '';
        h.result = 'failed';
        h.error = `not done within ${policy.progressDeadlineSeconds} s${foreign}`;
        h.finishedAt = at;
      }
    } else if (h.result === 'rolling-back') {
      c.rollbackSince ??= mono;
      const observed = !rewritten.has(h.id) && observes(h.id);
      const failed = observed ? failure(status, h.fromVersion ?? '') : undefined;
      if (observed && status?.phase === 'running' && status.version === h.fromVersion) {
        h.result = 'rolled-back';
        h.finishedAt = at;
        delete memory.hosts[h.id];
      } else if (failed !== undefined || mono - c.rollbackSince > deadlineMs) {
        h.result = 'failed';
        h.error = failed !== undefined ? `rollback to ${h.fromVersion} failed: ${failed}` : `rollback not done within ${policy.progressDeadlineSeconds} s`;
        h.finishedAt = at;
        delete memory.hosts[h.id];
      }
    }
  }

  // Advance.
  const halt = () => {
    const bad = state.hosts.filter((h) => h.result === 'failed').map(hostProblem);
    if (policy.autoRollback) startRollback(`failed (${bad.join('; ')}); rolling back`);
    else {
      state.state = 'failed';
      state.pausedBy = undefined;
      state.message = `failed: ${bad.join('; ')}`;
    }
  };
  if ((state.state === 'running' || state.state === 'paused') && state.hosts.some((h) => h.result === 'failed')) halt();
  const over = (h: RolloutHost) => h.result === 'done' || h.result === 'skipped';
  /** Every host of the current batch is over (a loop, not a filtered copy: it runs on every pass). */
  const batchOver = () => {
    for (const h of state.hosts) if (h.batch === state.currentBatch && !over(h)) return false;
    return true;
  };
  while (state.state === 'running' || state.state === 'paused') {
    // A batch done moves the rollout on (paused: no new batch starts).
    while (state.currentBatch < state.batches && batchOver()) {
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
      const fleetCurrent = input.fleetDesired?.version === to && (request.configHash === undefined || input.fleetDesired.configHash === request.configHash);
      if (fleetWide && !fleetCurrent) {
        // First the fleet's version, and only once it is stored the host keys go (next step):
        // an agent never sees its host key gone before the fleet's new version.
        writes.push({ key: keys.fleetDesired(project, component), value: desired(to) });
        state.state = 'running';
        state.pausedBy = undefined;
        state.message = `all hosts done; setting the fleet version to ${to}`;
      } else {
        const skipped = state.hosts.filter((h) => h.result === 'skipped');
        state.state = 'succeeded';
        state.pausedBy = undefined;
        state.message = `${state.hosts.length - skipped.length} host(s) on ${to}${skipped.length ? `; skipped ${skipped.map(hostProblem).join('; ')}` : ''}`;
        if (fleetWide) for (const h of state.hosts) writes.push({ key: hostKey(h.id) });
      }
      break;
    }
    if (state.state !== 'running') break;
    // The batch starts. A host of it whose registration is gone by now is lost (one that came back
    // before its turn is simply updated).
    const starting: number[] = [];
    for (let i = 0; i < state.hosts.length; i++) if (state.hosts[i].batch === state.currentBatch && state.hosts[i].result === 'pending') starting.push(i);
    for (const i of starting) if (!registered(state.hosts[i].id)) lose(i, `before its update to ${to}`);
    if (state.hosts.some((h) => h.result === 'failed')) {
      // None of the batch is moved (a rollback must not rewrite a key written in the same step).
      halt();
      break;
    }
    for (const i of starting) {
      if (state.hosts[i].result !== 'pending') continue;
      const h = edit(i);
      writes.push({ key: hostKey(h.id), value: desired(to) });
      h.result = 'updating';
      h.startedAt = at;
      memory.hosts[h.id] = { since: mono };
    }
    // Every host of the batch skipped: on to the next one in the same step.
    if (!batchOver()) break;
  }
  if (state.state === 'rolling-back' && state.hosts.every((h) => h.result !== 'rolling-back')) {
    // A host that did not come back in time (or whose rollback failed) ends it as failed: said, never stuck.
    const stuck = state.hosts.filter((h) => h.result === 'failed').map(hostProblem);
    const skipped = state.hosts.filter((h) => h.result === 'skipped').map((h) => h.id);
    if (stuck.length) {
      state.state = 'failed';
      state.message = `${state.message ?? 'rolling back'}; the rollback did not finish (${stuck.join('; ')})`;
    } else {
      state.state = 'rolled-back';
      state.message = `${state.message ?? 'rolled back'}; every moved host is back${skipped.length ? ` (skipped, not waited for: ${skipped.join(', ')})` : ''}`;
    }
  }
  if (state.state === 'paused' && state.pausedBy === 'canary' && input.state?.pausedBy !== 'canary') memory.canaryPausedRevision = undefined;

  // Out of the preflight (done, failed, aborted, rolled back): its instructions to the hosts go.
  const stored = input.state?.rollout === request.id ? input.state.state : undefined;
  if ((stored === 'preflight' || stored === undefined) && state.state !== 'preflight') {
    for (const h of state.hosts) {
      const asked = input.prepulls ? input.prepulls.get(h.id)?.rollout === request.id : stored === 'preflight';
      if (asked) writes.push({ key: keys.prepull(project, h.id, component) });
    }
  }
  const finished = isFinalRolloutState(state.state);
  if (finished) state.finishedAt ??= at;
  state.coordinator = input.coordinator ?? state.coordinator;
  if (writes.length === 0 && input.state?.rollout === request.id && sameState(input.state, state)) return { state: input.state, writes: [], finished: false, memory };
  state.updatedAt = at;
  if (finished) {
    writes.push(...intoHistory(keys, project, { request, state }));
  } else {
    writes.push(stateWrite(keys.rolloutState(project, component), state));
  }
  return { state, writes, finished, memory };
}

export interface CancelInput {
  keys: KeyLayout;
  project: string;
  component: string;
  /** The state left behind: its rollout's request is gone. */
  state: RolloutState;
  stateRevision: number;
  /** The request as this coordinator last saw it, if it did (none after a failover). */
  lastRequest?: RolloutRequest;
  /** This component's host-desired values and their mod revisions, by host id. */
  hostDesired: Map<string, { value: DesiredVersion; modRevision: number }>;
  /** This component's prepull keys and their mod revisions, by host id: the ones of this rollout go with it. */
  prepulls?: Map<string, { value: PrepullRequest; modRevision: number }>;
  fleetDesired?: DesiredVersion;
  /** History already holds this rollout (the state is a leftover of a finished one). */
  recorded?: boolean;
  now: Date;
  coordinator?: string;
}

export interface CancelPlan {
  /** The history entry (none when the state's rollout id cannot name a history key). */
  entry?: RolloutHistoryEntry;
  /** What every transaction of the cancel holds on: the request still absent, the state unchanged. */
  guards: Array<{ key: string; modRevision: number }>;
  /** Deletes of the pins (each only if unchanged), the state and the control; the history entry. */
  writes: PlannedWrite[];
  /** Hosts whose pin of this rollout is deleted: they follow the fleet's version again. */
  unpinned: string[];
}

/**
 * A rollout whose request was deleted by hand (its state is there, its request is not) is
 * cancelled: as if it had not been asked for. The host keys it wrote (value's `rollout` is its id)
 * are deleted, so those hosts follow the fleet's version again (or, without one, stay as they are);
 * host keys written by anyone else are left alone. Its state and control go, and history records it
 * as `cancelled`. Every write holds only while the request is still absent, the state unchanged and
 * each pin unchanged since read: a rollout finishing or a deploy at the same moment wins.
 */
export function planCancel(input: CancelInput): CancelPlan {
  const { keys, project, component, now } = input;
  const at = now.toISOString();
  const id = input.state.rollout;
  const guards = [
    { key: keys.rolloutRequest(project, component), modRevision: 0 },
    { key: keys.rolloutState(project, component), modRevision: input.stateRevision },
  ];
  if (input.recorded || isFinalRolloutState(input.state.state)) {
    // A leftover of a rollout that is over (other tooling, a crash of an older version): it is not cancelled, only cleared.
    return { guards, writes: [{ key: keys.rolloutControl(project, component) }, { key: keys.rolloutState(project, component) }], unpinned: [] };
  }
  const unpinned = [...input.hostDesired]
    .filter(([, pin]) => pin.value.rollout === id)
    .map(([host]) => host)
    .sort();
  const fleet = input.fleetDesired?.version;
  const where = unpinned.length
    ? `its host keys were deleted (${unpinned.join(', ')}): ${fleet ? `those hosts follow the fleet's version ${fleet} again` : 'no fleet version is set, so those hosts keep what they run'}`
    : 'it had written no host key';
  const state: RolloutState = {
    ...structuredClone(input.state),
    state: 'cancelled',
    pausedBy: undefined,
    message: `cancelled: its request was deleted; ${where}`,
    finishedAt: at,
    updatedAt: at,
    coordinator: input.coordinator ?? input.state.coordinator,
  };
  const writes: PlannedWrite[] = unpinned.map((host) => ({ key: keys.hostDesired(project, host, component), ifModRevision: input.hostDesired.get(host)!.modRevision }));
  for (const [host, asked] of input.prepulls ?? []) if (asked.value.rollout === id) writes.push({ key: keys.prepull(project, host, component), ifModRevision: asked.modRevision });
  writes.push({ key: keys.rolloutControl(project, component) }, { key: keys.rolloutState(project, component) });
  let entry: RolloutHistoryEntry | undefined;
  const request =
    input.lastRequest?.id === id
      ? input.lastRequest
      : rolloutRequestSchema.safeParse({
          id,
          component,
          toVersion: input.state.toVersion ?? [...input.hostDesired.values()].find((p) => p.value.rollout === id)?.value.version ?? 'unknown',
          policy: rolloutPolicySchema.parse({}),
          createdBy: 'unknown (the request was deleted before this coordinator read it)',
          createdAt: input.state.startedAt ?? at,
        }).data;
  if (request) {
    try {
      const key = keys.rolloutHistory(project, component, id);
      entry = { request, state };
      writes.push({ key, value: JSON.stringify(entry) });
    } catch {
      entry = undefined; // an id no history key can hold: cleaned up, not recorded
    }
  }
  return { entry, guards, writes, unpinned };
}

/**
 * The history entries to delete so that, with `keep` written, at most `limit` remain: the oldest
 * by mod revision (etcd's own order of writes, not a timestamp from some host).
 */
export function historyOverflow(entries: Iterable<{ key: string; modRevision: number }>, limit: number, keep: string): string[] {
  const others = [...entries].filter((e) => e.key !== keep).sort((a, b) => b.modRevision - a.modRevision || b.key.localeCompare(a.key));
  return others.slice(Math.max(0, limit - 1)).map((e) => e.key);
}
