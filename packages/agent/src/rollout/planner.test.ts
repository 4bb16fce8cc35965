import { KeyLayout, rolloutRequestSchema, type ComponentStatus, type DesiredVersion, type HostRegistration, type PrepullRequest, type PrepullStatus, type RolloutControl, type RolloutRequest, type RolloutState } from '@gantry/spec';
import { historyOverflow, observesHostKey, planCancel, planStep, sameState, type PlanInput, type PlanStep, type RolloutMemory } from './planner';

const keys = new KeyLayout();

/** `value`, and everything in it, frozen: a change to it throws (strict mode). */
function frozen<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) frozen(v);
    Object.freeze(value);
  }
  return value;
}
const P = 'demo';
const T0 = Date.parse('2026-01-01T00:00:00.000Z');

/** A request; without a preflight unless the policy asks for one (most cases here are about the batches). */
function request(policy: Record<string, unknown> = {}, toVersion = 'v2'): RolloutRequest {
  return rolloutRequestSchema.parse({ id: 'r1', component: 'web', toVersion, policy: { preflight: false, ...policy }, createdBy: 'test', createdAt: new Date(T0).toISOString() });
}

/**
 * A simulated fleet: hosts run what their host key (else the fleet key) says, when told, and report
 * which value they acted on (observed). etcd is a map with revisions; each step is one transaction.
 * `t` is both the wall clock and the coordinator's monotonic clock unless a test sets them apart.
 */
class World {
  registrations = new Map<string, HostRegistration>();
  statuses = new Map<string, ComponentStatus>();
  etcd = new Map<string, string>();
  revisions = new Map<string, number>();
  revision = 1;
  t = T0;
  /** The coordinator's monotonic clock; follows `t` unless set. */
  mono?: number;
  state?: RolloutState;
  memory?: RolloutMemory;
  private _control?: RolloutControl;

  constructor(n: number, labels: (i: number) => Record<string, string> = () => ({})) {
    for (let i = 1; i <= n; i++) {
      const id = `h${i}`;
      this.registrations.set(id, { hostId: id, address: `127.0.1.${i}`, labels: labels(i), agentVersion: '1', startedAt: new Date(T0).toISOString() });
    }
    this.put(keys.fleetDesired(P, 'web'), JSON.stringify({ version: 'v1' }));
    for (const id of this.registrations.keys()) this.run(id, 'v1');
  }
  put(key: string, value: string | undefined) {
    this.revision++;
    if (value === undefined) {
      this.etcd.delete(key);
      this.revisions.delete(key);
    } else {
      this.etcd.set(key, value);
      this.revisions.set(key, this.revision);
    }
  }
  get control(): RolloutControl | undefined {
    return this._control;
  }
  /** The operator writes a control (a new revision). */
  set control(c: RolloutControl | undefined) {
    this._control = c;
    this.revision++;
    this.revisions.set(keys.rolloutControl(P, 'web'), this.revision);
  }
  /** The generation host `id` acts on now: its host key, else the fleet's. */
  observed(id: string): ComponentStatus['observed'] {
    const hostKey = keys.hostDesired(P, id, 'web');
    const key = this.etcd.has(hostKey) ? hostKey : keys.fleetDesired(P, 'web');
    const value = this.etcd.get(key);
    if (value === undefined) return undefined;
    const parsed = JSON.parse(value) as DesiredVersion;
    return { key, modRevision: this.revisions.get(key)!, ...(parsed.rollout && { rollout: parsed.rollout }) };
  }
  run(id: string, version: string, extra: Partial<ComponentStatus> = {}) {
    this.statuses.set(id, { phase: 'running', version, containers: [], health: { state: 'healthy', failing: [], lastResults: [] }, observed: this.observed(id), updatedAt: new Date(this.t).toISOString(), ...extra });
  }
  fail(id: string, version: string) {
    this.statuses.set(id, { phase: 'failed', version: 'v1', targetVersion: version, containers: [], lastError: { reason: 'not ready in time', at: new Date(this.t).toISOString() }, observed: this.observed(id), updatedAt: new Date(this.t).toISOString() });
  }
  /** Host `id` answers the prepull of rollout r1 in its status. */
  prepulled(id: string, state: PrepullStatus['state'], extra: Partial<PrepullStatus> = {}) {
    const s = this.statuses.get(id)!;
    this.statuses.set(id, { ...s, prepull: { rollout: 'r1', version: 'v2', image: 'app:v2', state, ...extra } });
  }
  prepullKey(id: string): PrepullRequest | undefined {
    const v = this.etcd.get(keys.prepull(P, id, 'web'));
    return v === undefined ? undefined : JSON.parse(v);
  }
  hostKey(id: string): DesiredVersion | undefined {
    const v = this.etcd.get(keys.hostDesired(P, id, 'web'));
    return v === undefined ? undefined : JSON.parse(v);
  }
  input(req: RolloutRequest): PlanInput {
    const hostDesired = new Map<string, DesiredVersion>();
    const hostDesiredRevisions = new Map<string, number>();
    for (const id of this.registrations.keys()) {
      if (!this.hostKey(id)) continue;
      hostDesired.set(id, this.hostKey(id)!);
      hostDesiredRevisions.set(id, this.revisions.get(keys.hostDesired(P, id, 'web'))!);
    }
    const fleet = this.etcd.get(keys.fleetDesired(P, 'web'));
    const prepulls = new Map<string, PrepullRequest>();
    for (const id of this.registrations.keys()) if (this.prepullKey(id)) prepulls.set(id, this.prepullKey(id)!);
    return {
      keys,
      project: P,
      request: req,
      state: this.state,
      control: this.control,
      controlRevision: this.revisions.get(keys.rolloutControl(P, 'web')),
      stateRevision: this.revisions.get(keys.rolloutState(P, 'web')),
      registrations: this.registrations,
      statuses: this.statuses,
      hostDesired,
      hostDesiredRevisions,
      prepulls,
      fleetDesired: fleet ? JSON.parse(fleet) : undefined,
      now: new Date(this.t),
      mono: this.mono ?? this.t,
      memory: this.memory,
      coordinator: 'h1',
    };
  }
  /** One coordinator step: its writes in one transaction, its memory kept (as the coordinator does). */
  step(req: RolloutRequest): PlanStep {
    const out = planStep(this.input(req));
    this.memory = out.memory;
    if (out.writes.length === 0) return out;
    this.revision++;
    for (const w of out.writes) {
      if (w.value === undefined) {
        this.etcd.delete(w.key);
        this.revisions.delete(w.key);
      } else {
        this.etcd.set(w.key, w.value);
        this.revisions.set(w.key, this.revision);
      }
    }
    if (out.state.pausedBy === 'canary') this.memory.canaryPausedRevision ??= this.revision;
    const stored = this.etcd.get(keys.rolloutState(P, 'web'));
    // Frozen: a step must never change the state it plans from (the coordinator's mirror holds it).
    this.state = stored === undefined ? undefined : frozen(JSON.parse(stored));
    return out;
  }
  /** A new coordinator takes over: it knows only what etcd holds. */
  failover() {
    this.memory = undefined;
  }
  /** Every host whose host key says a version it does not run yet now runs it. */
  converge(except: string[] = []) {
    for (const id of this.registrations.keys()) {
      const want = this.hostKey(id)?.version;
      const s = this.statuses.get(id);
      const seen = JSON.stringify(s?.observed) === JSON.stringify(this.observed(id));
      if (want && !except.includes(id) && (s?.version !== want || s.phase !== 'running' || !seen)) this.run(id, want);
    }
  }
  updating(): string[] {
    return (this.state?.hosts ?? []).filter((h) => h.result === 'updating' || h.result === 'ready').map((h) => h.id);
  }
  history() {
    const v = this.etcd.get(keys.rolloutHistory(P, 'web', 'r1'));
    return v === undefined ? undefined : JSON.parse(v);
  }
}

describe('rollout planner', () => {
  it('cuts the selected hosts into batches, one batch updating at a time, then succeeds and hands over to the fleet key', () => {
    const w = new World(5);
    const req = request({ batch: { count: 2 } });
    w.step(req);
    expect(w.state!.batches).toBe(3);
    expect(w.state!.hosts.map((h) => [h.id, h.batch, h.fromVersion])).toEqual([['h1', 0, 'v1'], ['h2', 0, 'v1'], ['h3', 1, 'v1'], ['h4', 1, 'v1'], ['h5', 2, 'v1']]);
    expect(w.updating()).toEqual(['h1', 'h2']);
    expect(w.hostKey('h1')).toMatchObject({ version: 'v2', rollout: 'r1', setBy: 'rollout r1' });
    expect(w.hostKey('h3')).toBeUndefined();
    // Nothing changed: no write.
    expect(w.step(req).writes).toEqual([]);
    w.converge(['h2']);
    w.step(req);
    expect(w.state!.hosts.map((h) => h.result)).toEqual(['done', 'updating', 'pending', 'pending', 'pending']);
    w.converge();
    w.step(req);
    expect(w.updating()).toEqual(['h3', 'h4']);
    w.converge();
    w.step(req);
    expect(w.updating()).toEqual(['h5']);
    w.converge();
    // Last batch done: first the fleet key, then (next step) success, the host keys go, history.
    const setFleet = w.step(req);
    expect(setFleet.finished).toBe(false);
    expect(JSON.parse(w.etcd.get(keys.fleetDesired(P, 'web'))!)).toMatchObject({ version: 'v2' });
    expect(w.hostKey('h1')?.version).toBe('v2');
    const last = w.step(req);
    expect(last.finished).toBe(true);
    expect(w.history()).toMatchObject({ request: { id: 'r1' }, state: { state: 'succeeded' } });
    for (const id of ['h1', 'h2', 'h3', 'h4', 'h5']) expect(w.hostKey(id)).toBeUndefined();
    expect(w.etcd.has(keys.rolloutState(P, 'web'))).toBe(false);
    expect(w.etcd.has(keys.rolloutRequest(P, 'web'))).toBe(false);
    expect(last.writes.map((x) => x.key)).toEqual(expect.arrayContaining([keys.rolloutRequest(P, 'web'), keys.rolloutControl(P, 'web')]));
  });

  it('a lastError without a failed phase (an invalid config the agent works around) does not fail the host', () => {
    const w = new World(2);
    const req = request({ batch: { count: 2 } });
    w.step(req);
    const configProblem = { key: keys.config(P), reason: 'invalid config value: components[0].repo: required', at: new Date(T0).toISOString() };
    w.run('h1', 'v2', { lastError: configProblem });
    w.run('h2', 'v2', { targetVersion: 'v2', phase: 'starting', version: 'v1', lastError: configProblem });
    w.step(req);
    expect(w.state!.hosts.map((h) => h.result)).toEqual(['done', 'updating']);
    w.run('h2', 'v2', { lastError: configProblem });
    w.step(req);
    expect(w.state!.hosts.map((h) => h.result)).toEqual(['done', 'done']);
  });

  it('rolls a config generation like a version: done only once the host runs it, then the fleet key names it', () => {
    const w = new World(2);
    const req = { ...request({ batch: { count: 1 } }, 'v1'), configHash: 'abcdefabcdef' };
    w.step(req);
    expect(w.hostKey('h1')).toMatchObject({ version: 'v1', configHash: 'abcdefabcdef' });
    w.run('h1', 'v1', { configHash: '000000000000' }); // observed the new key, still the old container
    w.step(req);
    expect(w.state!.hosts.map((h) => h.result)).toEqual(['updating', 'pending']);
    w.run('h1', 'v1', { configHash: 'abcdefabcdef' });
    w.step(req);
    expect(w.state!.hosts.map((h) => h.result)).toEqual(['done', 'updating']);
    w.run('h2', 'v1', { configHash: 'abcdefabcdef' });
    w.step(req);
    // Same version as the fleet's: the fleet key is still rewritten, to name the new generation.
    expect(JSON.parse(w.etcd.get(keys.fleetDesired(P, 'web'))!)).toMatchObject({ version: 'v1', configHash: 'abcdefabcdef' });
    expect(w.step(req).finished).toBe(true);
  });

  it('sizes batches by percent', () => {
    const w = new World(5);
    w.step(request({ batch: { percent: 40 } }));
    expect(w.state!.hosts.map((h) => h.batch)).toEqual([0, 0, 1, 1, 2]);
  });

  it('pauses after the canary batch until resumed (a resume given before does not count)', () => {
    const w = new World(4);
    const req = request({ canary: 1, batch: { count: 2 } });
    w.control = { rollout: 'r1', action: 'resume', by: 'op', at: new Date(T0).toISOString() };
    w.step(req);
    expect(w.state!.hosts.map((h) => h.batch)).toEqual([0, 1, 1, 2]);
    expect(w.updating()).toEqual(['h1']);
    w.t += 1000;
    w.converge();
    w.step(req);
    expect(w.state).toMatchObject({ state: 'paused', pausedBy: 'canary', currentBatch: 1 });
    expect(w.updating()).toEqual([]);
    w.t += 60_000;
    w.step(req);
    expect(w.state!.state).toBe('paused');
    w.control = { rollout: 'r1', action: 'resume', by: 'op', at: new Date(w.t).toISOString() };
    w.step(req);
    expect(w.state!.state).toBe('running');
    expect(w.updating()).toEqual(['h2', 'h3']);
  });

  it('counts a host done only after minReadySeconds of ready, and back to updating if it stops being ready', () => {
    const w = new World(2);
    const req = request({ minReadySeconds: 10 });
    w.step(req);
    w.converge();
    w.step(req);
    expect(w.state!.hosts[0]).toMatchObject({ result: 'ready' });
    w.t += 5_000;
    w.run('h1', 'v2', { health: { state: 'unhealthy', failing: ['http'], lastResults: [] } });
    w.step(req);
    expect(w.state!.hosts[0]).toMatchObject({ result: 'updating' });
    w.run('h1', 'v2');
    w.step(req);
    w.t += 9_000;
    w.step(req);
    expect(w.state!.hosts[0].result).toBe('ready');
    w.t += 1_000;
    w.step(req);
    expect(w.state!.hosts[0].result).toBe('done');
    // The wait is over: only finishedAt is kept (a 10,000-host state stays under etcd's request limit).
    expect(w.state!.hosts[0].readySince).toBeUndefined();
    expect(w.state!.hosts[0].finishedAt).toBeDefined();
    expect(w.updating()).toEqual(['h2']);
  });

  it('tells states apart field by field, apart from when and by whom they were written', () => {
    const at = new Date(T0).toISOString();
    const a: RolloutState = { rollout: 'r1', state: 'running', hosts: [{ id: 'h1', batch: 0, result: 'updating' }], batches: 1, currentBatch: 0, updatedAt: at, coordinator: 'h1' };
    expect(sameState(a, { ...a, updatedAt: new Date(T0 + 1).toISOString(), coordinator: 'h2' })).toBe(true);
    expect(sameState(a, { ...a, hosts: [{ id: 'h1', batch: 0, result: 'updating', error: undefined }] })).toBe(true);
    expect(sameState(a, { ...a, hosts: [{ id: 'h1', batch: 0, result: 'done' }] })).toBe(false);
    expect(sameState(a, { ...a, hosts: [{ id: 'h1', batch: 0, result: 'updating', startedAt: at }] })).toBe(false);
    expect(sameState(a, { ...a, hosts: [] })).toBe(false);
    expect(sameState(a, { ...a, message: 'x' })).toBe(false);
  });

  it('fails a host not done within the progress deadline, and halts', () => {
    const w = new World(3);
    const req = request({ progressDeadlineSeconds: 30 });
    w.step(req);
    w.t += 30_000;
    w.step(req);
    expect(w.state!.state).toBe('running');
    w.t += 1;
    const out = w.step(req);
    expect(out.finished).toBe(true);
    expect(w.history().state).toMatchObject({ state: 'failed', hosts: [{ id: 'h1', result: 'failed', error: 'not done within 30 s' }, { result: 'pending' }, { result: 'pending' }] });
    expect(w.hostKey('h2')).toBeUndefined();
  });

  it('halts on a failed host: the hosts not started keep their version', () => {
    const w = new World(5);
    const req = request({ batch: { count: 2 } }, 'broken');
    w.step(req);
    w.fail('h1', 'broken');
    const out = w.step(req);
    expect(out.finished).toBe(true);
    const h = w.history().state;
    expect(h.state).toBe('failed');
    expect(h.hosts.map((x: { result: string }) => x.result)).toEqual(['failed', 'updating', 'pending', 'pending', 'pending']);
    expect(h.message).toMatch(/h1: not ready in time/);
    for (const id of ['h3', 'h4', 'h5']) expect(w.hostKey(id)).toBeUndefined();
    // The other host of the batch keeps what it was told (no rollback asked).
    expect(w.hostKey('h2')?.version).toBe('broken');
  });

  it('rolls the moved hosts back on failure with autoRollback, and ends rolled-back', () => {
    const w = new World(5);
    const req = request({ batch: { count: 2 }, autoRollback: true }, 'broken');
    w.step(req);
    w.fail('h1', 'broken');
    w.step(req);
    expect(w.state!.state).toBe('rolling-back');
    expect(w.state!.hosts.map((h) => h.result)).toEqual(['rolling-back', 'rolling-back', 'pending', 'pending', 'pending']);
    expect(w.hostKey('h1')).toMatchObject({ version: 'v1', rollout: 'r1' });
    expect(w.hostKey('h3')).toBeUndefined();
    w.converge(['h1']);
    w.step(req);
    expect(w.state!.state).toBe('rolling-back');
    expect(w.state!.hosts.map((h) => h.result).slice(0, 2)).toEqual(['rolling-back', 'rolled-back']);
    w.converge();
    const out = w.step(req);
    expect(out.finished).toBe(true);
    expect(w.history().state).toMatchObject({ state: 'rolled-back' });
  });

  it('a host that ran nothing is rolled back by deleting its host key', () => {
    const w = new World(2);
    w.statuses.delete('h1');
    const req = request({ autoRollback: true });
    w.step(req);
    expect(w.state!.hosts[0].fromVersion).toBeUndefined();
    w.t += 1000;
    w.control = { rollout: 'r1', action: 'rollback', by: 'op', at: new Date(w.t).toISOString() };
    const out = w.step(req);
    expect(w.hostKey('h1')).toBeUndefined();
    expect(out.writes).toContainEqual({ key: keys.hostDesired(P, 'h1', 'web') });
    expect(out.finished).toBe(true);
    expect(w.history().state.state).toBe('rolled-back');
  });

  it('pause lets the batch finish but starts no new one; resume carries on', () => {
    const w = new World(3);
    const req = request();
    w.step(req);
    w.control = { rollout: 'r1', action: 'pause', by: 'op', at: new Date(w.t).toISOString() };
    w.step(req);
    expect(w.state).toMatchObject({ state: 'paused', pausedBy: 'operator' });
    w.converge();
    w.step(req);
    expect(w.state!.hosts.map((h) => h.result)).toEqual(['done', 'pending', 'pending']);
    expect(w.state!.currentBatch).toBe(1);
    w.control = { rollout: 'r1', action: 'resume', by: 'op', at: new Date(w.t).toISOString() };
    w.step(req);
    expect(w.updating()).toEqual(['h2']);
  });

  it('abort stops advancing and leaves the hosts as they are; a control for another rollout is ignored', () => {
    const w = new World(3);
    const req = request();
    w.step(req);
    w.control = { rollout: 'other', action: 'abort', by: 'op', at: new Date(w.t).toISOString() };
    expect(w.step(req).writes).toEqual([]);
    w.control = { rollout: 'r1', action: 'abort', by: 'op', at: new Date(w.t).toISOString() };
    const out = w.step(req);
    expect(out.finished).toBe(true);
    expect(w.history().state).toMatchObject({ state: 'aborted' });
    expect(w.hostKey('h1')?.version).toBe('v2');
    expect(w.hostKey('h2')).toBeUndefined();
  });

  it('selects hosts by id or labels, and never touches the fleet key then', () => {
    const w = new World(4, (i) => ({ zone: i % 2 ? 'a' : 'b' }));
    const req = request({ hosts: { labels: { zone: 'b' } }, batch: { count: 5 } });
    w.step(req);
    expect(w.state!.hosts.map((h) => h.id)).toEqual(['h2', 'h4']);
    w.converge();
    const out = w.step(req);
    expect(out.finished).toBe(true);
    expect(JSON.parse(w.etcd.get(keys.fleetDesired(P, 'web'))!).version).toBe('v1');
    expect(w.hostKey('h2')?.version).toBe('v2');

    const w2 = new World(4);
    w2.step(request({ hosts: { ids: ['h3'] } }));
    expect(w2.state!.hosts.map((h) => h.id)).toEqual(['h3']);
  });

  it('continues from a stored state without moving a done host again', () => {
    const w = new World(3);
    const req = request();
    w.step(req);
    w.converge();
    w.step(req);
    const keyH1 = w.etcd.get(keys.hostDesired(P, 'h1', 'web'));
    w.t += 5000;
    // A new coordinator reads the stored state.
    const out = planStep({ ...w.input(req), coordinator: 'h3' });
    expect(out.writes.some((x) => x.key === keys.hostDesired(P, 'h1', 'web'))).toBe(false);
    expect(w.etcd.get(keys.hostDesired(P, 'h1', 'web'))).toBe(keyH1);
  });

  it('fails at once when no host matches', () => {
    const w = new World(2);
    const out = w.step(request({ hosts: { ids: ['nope'] } }));
    expect(out.finished).toBe(true);
    expect(w.history().state.message).toMatch(/no registered host/);
  });

  it('counts a host done or failed only from a status that observed the host key this rollout wrote', () => {
    const w = new World(2);
    // h1 already serves v2 (from an earlier pin), and h2 reports a failure of v2 from an earlier rollout.
    w.put(keys.hostDesired(P, 'h1', 'web'), JSON.stringify({ version: 'v2', rollout: 'r0' }));
    w.run('h1', 'v2');
    w.put(keys.hostDesired(P, 'h2', 'web'), JSON.stringify({ version: 'v2', rollout: 'r0' }));
    w.fail('h2', 'v2');
    const req = request({ batch: { count: 2 } });
    w.step(req);
    expect(w.updating()).toEqual(['h1', 'h2']);
    // The statuses predate the rollout's keys: neither done nor failed.
    w.t += 5_000;
    expect(w.step(req).writes).toEqual([]);
    expect(w.state!.hosts.map((h) => h.result)).toEqual(['updating', 'updating']);
    // h1's agent acts on the new key (same version: only its observed generation changes); h2's too.
    w.run('h1', 'v2');
    w.run('h2', 'v2');
    w.step(req);
    expect(w.state!.hosts.map((h) => h.result)).toEqual(['done', 'done']);
  });

  it('a rolling-back host counts as back only once its status observed the rollback value of its key', () => {
    const w = new World(2);
    const req = request({ autoRollback: true }, 'broken');
    w.step(req);
    // h1 never left v1 (still pulling when the rollback came): its status is of the forward key.
    w.statuses.set('h1', { ...w.statuses.get('h1')!, observed: w.observed('h1') });
    w.control = { rollout: 'r1', action: 'rollback', by: 'op', at: new Date(w.t).toISOString() };
    w.step(req);
    expect(w.state!.state).toBe('rolling-back');
    expect(w.state!.hosts[0].result).toBe('rolling-back');
    // Running v1, but of the forward key (rollout r1, older revision): not back yet.
    w.statuses.set('h1', { ...w.statuses.get('h1')!, observed: { key: keys.hostDesired(P, 'h1', 'web'), modRevision: 1, rollout: 'r1' } });
    expect(w.step(req).writes).toEqual([]);
    w.converge();
    const out = w.step(req);
    expect(out.finished).toBe(true);
    expect(w.history().state).toMatchObject({ state: 'rolled-back', hosts: [{ result: 'rolled-back' }, { result: 'pending' }] });
  });

  it("measures minReady and the progress deadline on the coordinator's clock, whatever the wall clock says", () => {
    const w = new World(1);
    w.mono = 0;
    const req = request({ minReadySeconds: 10, progressDeadlineSeconds: 60 });
    w.step(req);
    w.converge();
    w.step(req);
    expect(w.state!.hosts[0].result).toBe('ready');
    // The wall clock jumps an hour ahead (NTP, a VM resumed): 1 s passed on the coordinator's clock.
    w.t += 3_600_000;
    w.mono = 1_000;
    w.step(req);
    expect(w.state!.hosts[0].result).toBe('ready');
    // …and back a day: still measured on the monotonic clock.
    w.t -= 86_400_000;
    w.mono = 9_999;
    w.step(req);
    expect(w.state!.hosts[0].result).toBe('ready');
    w.mono = 10_000;
    w.step(req);
    expect(w.state!.hosts[0].result).toBe('done');

    const d = new World(1);
    d.mono = 0;
    const slow = request({ progressDeadlineSeconds: 60 });
    d.step(slow);
    d.t += 3_600_000; // wall clock far past the deadline: nothing
    d.mono = 60_000;
    d.step(slow);
    expect(d.state!.hosts[0].result).toBe('updating');
    d.mono = 60_001;
    expect(d.step(slow).finished).toBe(true);
    expect(d.history().state.hosts[0]).toMatchObject({ result: 'failed', error: 'not done within 60 s' });
  });

  it('a new coordinator restarts the clocks of the hosts in flight: the wait gets longer, never shorter', () => {
    const w = new World(2);
    w.mono = 0;
    const req = request({ minReadySeconds: 10, progressDeadlineSeconds: 30, batch: { count: 2 } });
    w.step(req);
    w.mono = 21_000;
    w.converge(['h2']);
    w.step(req);
    expect(w.state!.hosts.map((h) => h.result)).toEqual(['ready', 'updating']);
    // 8 s into h1's minReady and 29 s into h2's deadline, the coordinator dies; its successor's clock reads 500.
    w.mono = 29_000;
    w.step(req);
    expect(w.state!.hosts.map((h) => h.result)).toEqual(['ready', 'updating']);
    w.failover();
    w.mono = 500;
    w.step(req);
    w.mono = 500 + 9_999;
    w.step(req);
    expect(w.state!.hosts.map((h) => h.result)).toEqual(['ready', 'updating']);
    w.mono = 500 + 10_000;
    w.step(req);
    expect(w.state!.hosts.map((h) => h.result)).toEqual(['done', 'updating']);
    w.mono = 500 + 30_001;
    expect(w.step(req).finished).toBe(true);
    expect(w.history().state.hosts[1]).toMatchObject({ result: 'failed', error: 'not done within 30 s' });
  });

  it('a canary resume counts when written after the pause, by etcd order, whatever its `at` says', () => {
    const w = new World(3);
    const req = request({ canary: 1 });
    // A resume written before the pause, stamped 10 minutes in the future: does not count.
    w.control = { rollout: 'r1', action: 'resume', by: 'op', at: new Date(w.t + 600_000).toISOString() };
    w.step(req);
    w.converge();
    w.step(req);
    expect(w.state).toMatchObject({ state: 'paused', pausedBy: 'canary' });
    w.t += 1_000;
    expect(w.step(req).writes).toEqual([]);
    // A resume written after it, stamped 10 minutes in the past: counts.
    w.control = { rollout: 'r1', action: 'resume', by: 'op', at: new Date(w.t - 600_000).toISOString() };
    w.step(req);
    expect(w.state!.state).toBe('running');
    expect(w.updating()).toEqual(['h2']);
  });

  it('after a failover, a resume written after the paused state was stored still counts; one from before does not', () => {
    const w = new World(3);
    const req = request({ canary: 1 });
    w.control = { rollout: 'r1', action: 'resume', by: 'op', at: new Date(w.t).toISOString() };
    w.step(req);
    w.converge();
    w.step(req);
    expect(w.state!.pausedBy).toBe('canary');
    w.failover();
    expect(w.step(req).writes).toEqual([]);
    w.failover();
    w.control = { rollout: 'r1', action: 'resume', by: 'op', at: new Date(w.t).toISOString() };
    w.step(req);
    expect(w.state!.state).toBe('running');
  });

  it('a rollback that does not finish within the progress deadline ends the rollout failed, saying so', () => {
    const w = new World(3);
    w.mono = 0;
    const req = request({ batch: { count: 2 }, autoRollback: true, progressDeadlineSeconds: 20 }, 'broken');
    w.step(req);
    w.fail('h1', 'broken');
    w.mono = 5_000;
    w.step(req);
    expect(w.state!.state).toBe('rolling-back');
    // h2 comes back; h1 never does. The deadline runs from when the rollback started.
    w.converge(['h1']);
    w.mono = 25_000;
    w.step(req);
    expect(w.state!.state).toBe('rolling-back');
    expect(w.state!.hosts.map((h) => h.result).slice(0, 2)).toEqual(['rolling-back', 'rolled-back']);
    w.mono = 25_001;
    const out = w.step(req);
    expect(out.finished).toBe(true);
    const h = w.history().state;
    expect(h.state).toBe('failed');
    expect(h.hosts[0]).toMatchObject({ result: 'failed', error: 'rollback not done within 20 s' });
    expect(h.message).toMatch(/the rollback did not finish \(h1: rollback not done within 20 s\)/);
  });

  it('abort ends the rollout in every state not final: before its first step, paused, rolling back', () => {
    // Before the first step: nothing is moved.
    const a = new World(2);
    a.control = { rollout: 'r1', action: 'abort', by: 'op', at: new Date(a.t).toISOString() };
    expect(a.step(request()).finished).toBe(true);
    expect(a.history().state).toMatchObject({ state: 'aborted', message: 'aborted by op', hosts: [{ result: 'pending' }, { result: 'pending' }] });
    expect(a.hostKey('h1')).toBeUndefined();

    // Paused after the canary.
    const b = new World(3);
    const canary = request({ canary: 1 });
    b.step(canary);
    b.converge();
    b.step(canary);
    expect(b.state!.state).toBe('paused');
    b.control = { rollout: 'r1', action: 'abort', by: 'op', at: new Date(b.t).toISOString() };
    expect(b.step(canary).finished).toBe(true);
    expect(b.history().state.state).toBe('aborted');
    expect(b.hostKey('h1')?.version).toBe('v2');

    // Rolling back: the hosts stay where they are (h1's rollback key stays written).
    const c = new World(2);
    const broken = request({ autoRollback: true }, 'broken');
    c.step(broken);
    c.fail('h1', 'broken');
    c.step(broken);
    expect(c.state!.state).toBe('rolling-back');
    c.control = { rollout: 'r1', action: 'abort', by: 'op', at: new Date(c.t).toISOString() };
    const out = c.step(broken);
    expect(out.finished).toBe(true);
    expect(c.history().state).toMatchObject({ state: 'aborted', message: expect.stringMatching(/^aborted by op during the rollback/) });
    expect(out.writes.filter((x) => x.key.includes('/hosts/'))).toEqual([]);
    expect(c.hostKey('h1')?.version).toBe('v1');

    // Pause and resume mean nothing while rolling back.
    const d = new World(2);
    d.step(broken);
    d.fail('h1', 'broken');
    d.step(broken);
    d.control = { rollout: 'r1', action: 'pause', by: 'op', at: new Date(d.t).toISOString() };
    expect(d.step(broken).writes).toEqual([]);
  });

  it('a cancelled rollout (request deleted) unpins only the hosts it pinned, guarded, and is recorded as cancelled', () => {
    const w = new World(3);
    const req = request({ batch: { count: 2 } });
    w.step(req);
    w.put(keys.hostDesired(P, 'h3', 'web'), JSON.stringify({ version: 'v0', setBy: 'ann' }));
    const hostDesired = new Map<string, { value: DesiredVersion; modRevision: number }>();
    for (const id of ['h1', 'h2', 'h3']) hostDesired.set(id, { value: w.hostKey(id)!, modRevision: w.revisions.get(keys.hostDesired(P, id, 'web'))! });
    const base = { keys, project: P, component: 'web', state: w.state!, stateRevision: 42, hostDesired, fleetDesired: { version: 'v1', state: 'running' as const }, now: new Date(T0 + 5_000), coordinator: 'h2' };
    const plan = planCancel({ ...base, lastRequest: req });
    expect(plan.unpinned).toEqual(['h1', 'h2']);
    expect(plan.guards).toEqual([
      { key: keys.rolloutRequest(P, 'web'), modRevision: 0 },
      { key: keys.rolloutState(P, 'web'), modRevision: 42 },
    ]);
    expect(plan.writes).toEqual(
      expect.arrayContaining([
        { key: keys.hostDesired(P, 'h1', 'web'), ifModRevision: hostDesired.get('h1')!.modRevision },
        { key: keys.hostDesired(P, 'h2', 'web'), ifModRevision: hostDesired.get('h2')!.modRevision },
        { key: keys.rolloutState(P, 'web') },
        { key: keys.rolloutControl(P, 'web') },
      ]),
    );
    expect(plan.writes.some((x) => x.key === keys.hostDesired(P, 'h3', 'web'))).toBe(false);
    expect(plan.entry).toMatchObject({ request: { id: 'r1', createdBy: 'test' }, state: { state: 'cancelled', coordinator: 'h2', message: expect.stringContaining("(h1, h2): those hosts follow the fleet's version v1 again") } });
    expect(plan.writes.find((x) => x.key === keys.rolloutHistory(P, 'web', 'r1'))?.value).toBe(JSON.stringify(plan.entry));
    // Without the request (a new coordinator never saw it): rebuilt from the state.
    const blind = planCancel(base);
    expect(blind.entry?.request).toMatchObject({ id: 'r1', component: 'web', toVersion: 'v2', createdBy: expect.stringMatching(/^unknown/) });
    // A leftover state of a rollout already over (or already in history) is only cleared: no pin touched, history kept.
    for (const leftover of [planCancel({ ...base, recorded: true }), planCancel({ ...base, state: { ...w.state!, state: 'aborted' } })]) {
      expect(leftover).toEqual({ guards: plan.guards, writes: [{ key: keys.rolloutControl(P, 'web') }, { key: keys.rolloutState(P, 'web') }], unpinned: [] });
    }
  });

  describe('preflight', () => {
    const hostWrites = (out: PlanStep) => out.writes.filter((x) => x.key.includes('/desired/'));

    it('asks every selected host to pull, moves none, and runs once all pulled; its keys go as it leaves', () => {
      const w = new World(3);
      const req = request({ preflight: true, batch: { count: 2 } });
      const first = w.step(req);
      expect(w.state).toMatchObject({ state: 'preflight', hosts: [{ result: 'pending' }, { result: 'pending' }, { result: 'pending' }] });
      expect(hostWrites(first)).toEqual([]);
      for (const id of ['h1', 'h2', 'h3']) expect(w.prepullKey(id)).toMatchObject({ rollout: 'r1', version: 'v2' });
      // Asked already: nothing written again while they pull.
      w.prepulled('h1', 'pulled');
      w.prepulled('h2', 'pulling', { progress: { layersDone: 1, layersTotal: 3, bytesDone: 5, bytesTotal: 50 } });
      expect(w.step(req).writes.filter((x) => x.key.includes('/prepull/'))).toEqual([]);
      expect(w.state!.hosts.map((h) => h.prepull)).toEqual(['pulled', undefined, undefined]);
      expect(w.hostKey('h1')).toBeUndefined();
      // An answer about another rollout does not count.
      w.prepulled('h2', 'pulled');
      w.prepulled('h3', 'pulled', { rollout: 'r0' });
      w.step(req);
      expect(w.state!.state).toBe('preflight');
      w.prepulled('h3', 'pulled');
      const out = w.step(req);
      expect(w.state).toMatchObject({ state: 'running', message: 'preflight: 3 host(s) pulled v2' });
      expect(w.state!.hosts.map((h) => h.prepull)).toEqual(['pulled', 'pulled', 'pulled']);
      for (const id of ['h1', 'h2', 'h3']) expect(w.prepullKey(id)).toBeUndefined();
      expect(out.writes.filter((x) => x.key.includes('/prepull/')).map((x) => x.value)).toEqual([undefined, undefined, undefined]);
      // The first batch starts in the same step.
      expect(w.updating()).toEqual(['h1', 'h2']);
      expect(w.hostKey('h1')?.version).toBe('v2');
    });

    it('one failed pull fails the rollout, naming the host and the reason, with no host key written', () => {
      const w = new World(3);
      const req = request({ preflight: true, batch: { count: 3 } });
      w.step(req);
      w.prepulled('h1', 'pulled');
      w.prepulled('h2', 'failed', { error: 'image app:v2 not found in registry reg (manifest unknown)' });
      w.step(req);
      // Judged once every host is: h3 still pulling.
      expect(w.state!.state).toBe('preflight');
      w.prepulled('h3', 'pulled');
      const out = w.step(req);
      const h = w.history().state;
      expect(h.state).toBe('failed');
      expect(h.message).toBe('preflight failed, no host was moved: h2: pre-pull of app:v2 failed: image app:v2 not found in registry reg (manifest unknown)');
      expect(h.hosts.map((x: { id: string; result: string; prepull?: string }) => [x.id, x.result, x.prepull])).toEqual([['h1', 'pending', 'pulled'], ['h2', 'failed', 'failed'], ['h3', 'pending', 'pulled']]);
      expect(hostWrites(out)).toEqual([]);
      for (const id of ['h1', 'h2', 'h3']) {
        expect(w.hostKey(id)).toBeUndefined();
        expect(w.prepullKey(id)).toBeUndefined();
      }
      expect(JSON.parse(w.etcd.get(keys.fleetDesired(P, 'web'))!).version).toBe('v1');
    });

    it("a host that does not answer within the progress deadline (coordinator's clock) fails it, saying how far it got", () => {
      const w = new World(2);
      const req = request({ preflight: true, progressDeadlineSeconds: 30 });
      w.step(req);
      w.prepulled('h1', 'pulled');
      w.prepulled('h2', 'pulling', { progress: { layersDone: 1, layersTotal: 2, bytesDone: 10, bytesTotal: 90 } });
      w.mono = T0 + 30_000;
      w.step(req);
      expect(w.state!.state).toBe('preflight');
      w.mono = T0 + 30_001;
      w.step(req);
      expect(w.history().state).toMatchObject({ state: 'failed', hosts: [{ prepull: 'pulled' }, { result: 'failed', error: 'pre-pull of v2 not done within 30 s (still pulling: 1/2 layers, 10/90 bytes)' }] });
      // An agent that never answered is named as such.
      const v = new World(1);
      v.step(req);
      v.mono = T0 + 31_000;
      v.step(req);
      expect(v.history().state.hosts[0].error).toMatch(/its agent never answered/);
    });

    it('a host lost during the preflight fails it (onHostLost fail) or is skipped (skip)', () => {
      const w = new World(2);
      const req = request({ preflight: true });
      w.step(req);
      w.prepulled('h1', 'pulled');
      w.registrations.delete('h2');
      w.step(req);
      expect(w.history().state).toMatchObject({ state: 'failed', hosts: [{ id: 'h1' }, { id: 'h2', result: 'failed' }] });
      expect(w.hostKey('h1')).toBeUndefined();

      const s = new World(2);
      const skip = request({ preflight: true, onHostLost: 'skip' });
      s.step(skip);
      s.prepulled('h1', 'pulled');
      s.registrations.delete('h2');
      s.step(skip);
      expect(s.state).toMatchObject({ state: 'running', hosts: [{ id: 'h1', result: 'updating' }, { id: 'h2', result: 'skipped' }] });
    });

    it('abort during the preflight ends it, no host moved, its prepull keys deleted', () => {
      const w = new World(2);
      const req = request({ preflight: true });
      w.step(req);
      w.prepulled('h1', 'pulling');
      w.control = { rollout: 'r1', action: 'abort', by: 'op', at: new Date(w.t).toISOString() };
      const out = w.step(req);
      expect(out.finished).toBe(true);
      expect(w.history().state).toMatchObject({ state: 'aborted', message: 'aborted by op' });
      expect(hostWrites(out)).toEqual([]);
      for (const id of ['h1', 'h2']) expect(w.prepullKey(id)).toBeUndefined();
    });

    it('a request without the field (written before it existed) has a preflight', () => {
      const old = rolloutRequestSchema.parse({ id: 'r1', component: 'web', toVersion: 'v2', policy: {}, createdBy: 'test', createdAt: new Date(T0).toISOString() });
      expect(old.policy.preflight).toBe(true);
      const w = new World(1);
      w.step(old);
      expect(w.state!.state).toBe('preflight');
    });

    it('a cancel deletes the prepull keys of its rollout, guarded, and no other', () => {
      const w = new World(2);
      w.step(request({ preflight: true }));
      w.put(keys.prepull(P, 'h2', 'web'), JSON.stringify({ rollout: 'r0', version: 'v9' }));
      const prepulls = new Map<string, { value: PrepullRequest; modRevision: number }>();
      for (const id of ['h1', 'h2']) prepulls.set(id, { value: w.prepullKey(id)!, modRevision: w.revisions.get(keys.prepull(P, id, 'web'))! });
      const plan = planCancel({ keys, project: P, component: 'web', state: w.state!, stateRevision: 7, hostDesired: new Map(), prepulls, now: new Date(T0), coordinator: 'h1' });
      const deleted = plan.writes.filter((x) => x.key.includes('/prepull/'));
      expect(deleted).toEqual([{ key: keys.prepull(P, 'h1', 'web'), ifModRevision: prepulls.get('h1')!.modRevision }]);
    });
  });

  it('history keeps the newest entries by etcd revision', () => {
    const entries = [5, 3, 9, 1, 7].map((modRevision) => ({ key: `k${modRevision}`, modRevision }));
    expect(historyOverflow(entries, 3, 'new')).toEqual(['k5', 'k3', 'k1']);
    expect(historyOverflow(entries, 50, 'new')).toEqual([]);
    expect(historyOverflow([...entries, { key: 'new', modRevision: 10 }], 1, 'new')).toEqual(['k9', 'k7', 'k5', 'k3', 'k1']);
  });

  it('a status observes the host key of a rollout only with its id, its key, and its revision or a later one', () => {
    const key = keys.hostDesired(P, 'h1', 'web');
    const status = (observed: ComponentStatus['observed']): ComponentStatus => ({ phase: 'running', version: 'v2', containers: [], observed, updatedAt: new Date(T0).toISOString() });
    expect(observesHostKey(status({ key, modRevision: 7, rollout: 'r1' }), 'r1', key, 7)).toBe(true);
    expect(observesHostKey(status({ key, modRevision: 9, rollout: 'r1' }), 'r1', key, 7)).toBe(true);
    expect(observesHostKey(status({ key, modRevision: 6, rollout: 'r1' }), 'r1', key, 7)).toBe(false);
    expect(observesHostKey(status({ key, modRevision: 7, rollout: 'r0' }), 'r1', key, 7)).toBe(false);
    expect(observesHostKey(status({ key: keys.fleetDesired(P, 'web'), modRevision: 7, rollout: 'r1' }), 'r1', key, 7)).toBe(false);
    expect(observesHostKey(status(undefined), 'r1', key, 7)).toBe(false);
    // An agent that cannot tell revisions (0): the rollout id and key decide.
    expect(observesHostKey(status({ key, modRevision: 0, rollout: 'r1' }), 'r1', key, 7)).toBe(true);
  });

  describe('a host that loses its registration (lease expired) mid-rollout', () => {
    const lostWhileUpdating = 'host h2 lost its registration (lease expired) while updating to v2';

    it('fail (the default, also for a request stored before the option): the rollout fails at once, naming the host, not at the progress deadline', () => {
      const w = new World(3);
      const stored = request();
      expect(stored.policy.onHostLost).toBe('fail');
      w.step(stored);
      w.converge();
      w.step(stored);
      expect(w.updating()).toEqual(['h2']);
      // h2's lease expires a second later: its registration key is gone.
      w.t += 1_000;
      w.registrations.delete('h2');
      const out = w.step(stored);
      expect(out.finished).toBe(true);
      const h = w.history().state;
      expect(h.state).toBe('failed');
      expect(h.message).toBe(`failed: ${lostWhileUpdating}`);
      expect(h.hosts.map((x: { id: string; result: string; error?: string }) => [x.id, x.result, x.error])).toEqual([
        ['h1', 'done', undefined],
        ['h2', 'failed', lostWhileUpdating],
        ['h3', 'pending', undefined],
      ]);
      // The host key it was given stays (it runs that when it comes back); h3 is never moved.
      expect(w.hostKey('h2')?.version).toBe('v2');
      expect(w.hostKey('h3')).toBeUndefined();
    });

    it('fail while ready within minReadySeconds fails too; a done host losing its registration changes nothing', () => {
      const w = new World(3);
      const req = request({ minReadySeconds: 10 });
      w.step(req);
      w.converge();
      w.step(req);
      w.t += 10_000;
      w.step(req);
      expect(w.state!.hosts.map((h) => h.result)).toEqual(['done', 'updating', 'pending']);
      // h1 (done) goes away: nothing happens to the rollout.
      w.registrations.delete('h1');
      expect(w.step(req).writes).toEqual([]);
      w.converge();
      w.step(req);
      expect(w.state!.hosts[1].result).toBe('ready');
      w.registrations.delete('h2');
      w.step(req);
      expect(w.history().state).toMatchObject({ state: 'failed', hosts: [{ result: 'done' }, { result: 'failed', error: lostWhileUpdating }, { result: 'pending' }] });
    });

    it('skip: the host is skipped, visible in the state, and the others go on; a fleet-wide rollout still hands over to the fleet key', () => {
      const w = new World(3);
      const req = request({ onHostLost: 'skip' });
      w.step(req);
      w.converge();
      w.step(req);
      w.registrations.delete('h2');
      w.step(req);
      expect(w.state!.hosts.map((h) => [h.id, h.result, h.error])).toEqual([
        ['h1', 'done', undefined],
        ['h2', 'skipped', lostWhileUpdating],
        ['h3', 'updating', undefined],
      ]);
      expect(w.state!.state).toBe('running');
      expect(w.hostKey('h3')?.version).toBe('v2');
      w.converge();
      w.step(req); // the fleet key
      expect(JSON.parse(w.etcd.get(keys.fleetDesired(P, 'web'))!)).toMatchObject({ version: 'v2' });
      const last = w.step(req);
      expect(last.finished).toBe(true);
      expect(w.history().state).toMatchObject({ state: 'succeeded', message: `2 host(s) on v2; skipped ${lostWhileUpdating}` });
      // Every host key goes, the skipped host's too: when it returns it runs the fleet's version.
      for (const id of ['h1', 'h2', 'h3']) expect(w.hostKey(id)).toBeUndefined();
    });

    it('a host still to update: lost if its registration is still gone when its batch starts (skip: never moved; back by then: updated)', () => {
      const w = new World(4);
      const req = request({ onHostLost: 'skip' });
      w.step(req);
      // h3 goes away while h1 updates and comes back before its turn; h2 is still gone at its turn.
      w.registrations.delete('h2');
      const h3 = w.registrations.get('h3')!;
      w.registrations.delete('h3');
      expect(w.step(req).writes).toEqual([]); // a pending host gone is not acted on yet
      w.registrations.set('h3', h3);
      w.converge();
      w.step(req);
      // h1 done; h2's turn: skipped without its key being written, h3's batch starts in the same step.
      expect(w.state!.hosts.map((h) => h.result)).toEqual(['done', 'skipped', 'updating', 'pending']);
      expect(w.state!.hosts[1].error).toBe('host h2 lost its registration (lease expired) before its update to v2');
      expect(w.state!.currentBatch).toBe(2);
      expect(w.hostKey('h2')).toBeUndefined();
      expect(w.hostKey('h3')?.version).toBe('v2');
    });

    it('fail with a host still to update: the rollout fails when its batch would start, and none of that batch is moved', () => {
      const w = new World(4);
      const req = request({ batch: { count: 2 } });
      w.step(req);
      w.registrations.delete('h4');
      w.converge();
      w.step(req);
      expect(w.history().state).toMatchObject({
        state: 'failed',
        message: 'failed: host h4 lost its registration (lease expired) before its update to v2',
        hosts: [{ result: 'done' }, { result: 'done' }, { result: 'pending' }, { result: 'failed' }],
      });
      expect(w.hostKey('h3')).toBeUndefined();
      expect(w.hostKey('h4')).toBeUndefined();
    });

    it('fail with autoRollback: the lost host gets its previous version back for when it returns; nothing waits for it', () => {
      const w = new World(3);
      const req = request({ batch: { count: 2 }, autoRollback: true });
      w.step(req);
      w.converge(['h2']);
      w.step(req);
      w.registrations.delete('h2');
      w.step(req);
      expect(w.state!.state).toBe('rolling-back');
      expect(w.state!.hosts.map((h) => h.result)).toEqual(['rolling-back', 'failed', 'pending']);
      expect(w.hostKey('h2')).toMatchObject({ version: 'v1', rollout: 'r1' });
      w.converge();
      const out = w.step(req);
      expect(out.finished).toBe(true);
      expect(w.history().state).toMatchObject({ state: 'failed', hosts: [{ result: 'rolled-back' }, { result: 'failed', error: lostWhileUpdating }, { result: 'pending' }] });
      expect(w.history().state.message).toContain(`the rollback did not finish (${lostWhileUpdating})`);
    });

    it('a new coordinator (no memory) that finds a host of the batch unregistered acts the same', () => {
      const w = new World(2);
      const req = request({ onHostLost: 'skip' });
      w.step(req);
      w.failover();
      w.registrations.delete('h1');
      w.step(req);
      expect(w.state!.hosts.map((h) => h.result)).toEqual(['skipped', 'updating']);
    });
  });
});
