import { KeyLayout, rolloutRequestSchema, type ComponentStatus, type DesiredVersion, type HostRegistration, type RolloutControl, type RolloutRequest, type RolloutState } from '@gantry/spec';
import { planStep, type PlanInput, type PlanStep } from './planner';

const keys = new KeyLayout();
const P = 'demo';
const T0 = Date.parse('2026-01-01T00:00:00.000Z');

function request(policy: Record<string, unknown> = {}, toVersion = 'v2'): RolloutRequest {
  return rolloutRequestSchema.parse({ id: 'r1', component: 'web', toVersion, policy, createdBy: 'test', createdAt: new Date(T0).toISOString() });
}

/** A simulated fleet: hosts run what their host key (else the fleet key) says, when told. */
class World {
  registrations = new Map<string, HostRegistration>();
  statuses = new Map<string, ComponentStatus>();
  etcd = new Map<string, string>();
  t = T0;
  state?: RolloutState;
  control?: RolloutControl;

  constructor(n: number, labels: (i: number) => Record<string, string> = () => ({})) {
    for (let i = 1; i <= n; i++) {
      const id = `h${i}`;
      this.registrations.set(id, { hostId: id, address: `127.0.1.${i}`, labels: labels(i), agentVersion: '1', startedAt: new Date(T0).toISOString() });
      this.run(id, 'v1');
    }
    this.etcd.set(keys.fleetDesired(P, 'web'), JSON.stringify({ version: 'v1' }));
  }
  run(id: string, version: string, extra: Partial<ComponentStatus> = {}) {
    this.statuses.set(id, { phase: 'running', version, containers: [], health: { state: 'healthy', failing: [], lastResults: [] }, updatedAt: new Date(this.t).toISOString(), ...extra });
  }
  fail(id: string, version: string) {
    this.statuses.set(id, { phase: 'failed', version: 'v1', targetVersion: version, containers: [], lastError: { reason: 'not ready in time', at: new Date(this.t).toISOString() }, updatedAt: new Date(this.t).toISOString() });
  }
  hostKey(id: string): DesiredVersion | undefined {
    const v = this.etcd.get(keys.hostDesired(P, id, 'web'));
    return v === undefined ? undefined : JSON.parse(v);
  }
  input(req: RolloutRequest): PlanInput {
    const hostDesired = new Map<string, DesiredVersion>();
    for (const id of this.registrations.keys()) if (this.hostKey(id)) hostDesired.set(id, this.hostKey(id)!);
    const fleet = this.etcd.get(keys.fleetDesired(P, 'web'));
    return { keys, project: P, request: req, state: this.state, control: this.control, registrations: this.registrations, statuses: this.statuses, hostDesired, fleetDesired: fleet ? JSON.parse(fleet) : undefined, now: new Date(this.t), coordinator: 'h1' };
  }
  step(req: RolloutRequest): PlanStep {
    const out = planStep(this.input(req));
    for (const w of out.writes) (w.value === undefined ? this.etcd.delete(w.key) : this.etcd.set(w.key, w.value));
    const stored = this.etcd.get(keys.rolloutState(P, 'web'));
    this.state = stored === undefined ? undefined : JSON.parse(stored);
    return out;
  }
  /** Every host whose host key says a version it does not run yet now runs it. */
  converge(except: string[] = []) {
    for (const id of this.registrations.keys()) {
      const want = this.hostKey(id)?.version;
      const s = this.statuses.get(id);
      if (want && !except.includes(id) && (s?.version !== want || s.phase !== 'running')) this.run(id, want);
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
    expect(w.updating()).toEqual(['h2']);
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
});
