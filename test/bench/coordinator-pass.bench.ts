/**
 * The coordinator's work per pass, apart from etcd: what one pass costs it when one host of a batch
 * in flight reports done, over fleets of growing size with the same news. Measured on the real
 * planning code (planStep, then holdsBack: the pass's own decision to hold the state back), on
 * records in memory as the coordinator's mirror holds them; median of BENCH_PASS_ROUNDS (default
 * 50) passes, each one host more done. Two in-flight sizes: a batch of 100 hosts, and a batch of
 * 10% of the fleet (in flight grows with the fleet). A pass whose work follows what changed costs
 * about the same at 1,000 hosts and at 10,000 when the batch is the same.
 */
import { holdsBack } from '@gantry/agent/dist/rollout/state-hold';
import { planStep, type RolloutMemory } from '@gantry/agent/dist/rollout/planner';
import { KeyLayout, rolloutRequestSchema, type ComponentStatus, type HostRegistration, type RolloutRequest, type RolloutState } from '@gantry/spec';
import { fmt, median, printTable } from './stats';

const keys = new KeyLayout();
const P = 'bench-pass';
const SIZES = (process.env.BENCH_PASS_HOSTS ?? '1000,2000,10000').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_PASS_ROUNDS ?? 50);

interface Fleet {
  request: RolloutRequest;
  registrations: Map<string, HostRegistration>;
  statuses: Map<string, ComponentStatus>;
}

function fleetOf(n: number, batch: { count: number } | { percent: number }): Fleet {
  const at = new Date().toISOString();
  const request = rolloutRequestSchema.parse({ id: 'r1', component: 'web', toVersion: 'v2', policy: { preflight: false, batch, minReadySeconds: 0 }, createdBy: 'bench', createdAt: at });
  const registrations = new Map<string, HostRegistration>();
  const statuses = new Map<string, ComponentStatus>();
  for (let i = 1; i <= n; i++) {
    const id = `h${String(i).padStart(5, '0')}`;
    registrations.set(id, { hostId: id, address: '127.0.0.1', labels: {}, agentVersion: 'bench', startedAt: at });
    statuses.set(id, { phase: 'running', version: 'v1', containers: [], observed: { key: keys.fleetDesired(P, 'web'), modRevision: 1 }, updatedAt: at });
  }
  return { request, registrations, statuses };
}

/** One pass: plan the step, then decide whether it is held back (as the coordinator does). */
function pass(f: Fleet, state: RolloutState | undefined, memory: RolloutMemory | undefined, mono: number) {
  const step = planStep({ keys, project: P, request: f.request, state, registrations: f.registrations, statuses: f.statuses, hostDesired: new Map(), now: new Date(), mono, memory, coordinator: 'bench' });
  const held = state !== undefined && holdsBack(step.writes, keys.rolloutState(P, 'web'), state, step.state);
  return { step, held };
}

/** Median pass time (ms) once the first batch is in flight, each pass with one more of it done. */
function measure(n: number, batch: { count: number } | { percent: number }): { ms: number; inFlight: number } {
  const f = fleetOf(n, batch);
  let { step } = pass(f, undefined, undefined, 0);
  let state = step.state;
  let memory = step.memory;
  const inFlight = state.hosts.filter((h) => h.result === 'updating');
  const times: number[] = [];
  for (let i = 0; i < Math.min(ROUNDS, inFlight.length - 1); i++) {
    const h = inFlight[i];
    f.statuses.set(h.id, { phase: 'running', version: 'v2', containers: [], observed: { key: keys.hostDesired(P, h.id, 'web'), modRevision: 0, rollout: 'r1' }, updatedAt: new Date().toISOString() });
    const began = performance.now();
    ({ step } = pass(f, state, memory, i + 1));
    times.push(performance.now() - began);
    // Held back or written, the next pass plans from it (the coordinator's held state).
    state = step.state;
    memory = step.memory;
  }
  return { ms: median(times), inFlight: inFlight.length };
}

export async function benchCoordinatorPass(): Promise<void> {
  const rows: string[][] = [];
  for (const n of SIZES) measure(n, { count: 100 }); // warm: the JIT, the shapes
  for (const n of SIZES) {
    const fixed = measure(n, { count: 100 });
    const tenth = measure(n, { percent: 10 });
    rows.push([n.toLocaleString('en'), fmt(fixed.ms), `${fmt(tenth.ms)} (${tenth.inFlight} in flight)`]);
  }
  printTable(`Coordinator pass, one host of the batch done (planStep + holdsBack, in memory, median of ${ROUNDS})`, ['hosts', 'batch of 100', 'batch of 10%'], rows);
}
