/**
 * SIMULATION: a fleet of simulated hosts spread over child processes (simulated-agents-process.ts),
 * and the real coordinator in a process of its own (coordinator-process.ts), both against the
 * real etcd. What one process of agents can run is bounded by its event loop: several share the
 * machine's cores the way hosts would not, so figures are of the coordination, not of hosts.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { CoordinatorProcessSpec, CoordinatorProcessStats } from './coordinator-process';
import type { SimulatedAgentsSpec } from './simulated-agents-process';

type Reply = { type: 'started'; agents?: number; rssBytes?: number } | { type: 'error'; message: string } | { type: 'stats'; stats: CoordinatorProcessStats };

function child(script: string, spec: unknown, what: string, timeoutMs: number, execArgv: string[] = []): Promise<{ proc: ChildProcess; started: Extract<Reply, { type: 'started' }> }> {
  // Room for the records of thousands of agents (or hosts, in the coordinator's mirror).
  const proc = fork(join(__dirname, script), [], { execArgv: ['--max-old-space-size=8192', ...execArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: not started within ${timeoutMs} ms`)), timeoutMs);
    proc.on('message', (m: Reply) => {
      if (m.type === 'started') {
        clearTimeout(timer);
        resolve({ proc, started: m });
      } else if (m.type === 'error') {
        clearTimeout(timer);
        reject(new Error(`${what}: ${m.message}`));
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what}: exited (${code}) before it started`));
    });
    proc.send({ type: 'run', spec });
  });
}

/** Node's flags for a V8 CPU profile written into BENCH_CPU_PROF_DIR at exit; none when it is unset. */
const cpuProfileArgs = (): string[] => (process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`] : []);

async function stopChild(proc: ChildProcess, timeoutMs = 60_000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.send({ type: 'stop' });
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

export interface SimulatedFleet {
  /** Resident memory of each agents process once its agents had started, bytes. */
  rssBytes: number[];
  stop(): Promise<void>;
}

/** Hosts s1..s<count>, in `processes` child processes. */
export async function startSimulatedFleet(opts: { etcd: string[]; project: string; count: number; processes: number; startMs: number; readyMs: number }): Promise<SimulatedFleet> {
  const procs: ChildProcess[] = [];
  const rssBytes: number[] = [];
  const per = Math.ceil(opts.count / opts.processes);
  const specs: SimulatedAgentsSpec[] = [];
  for (let from = 1; from <= opts.count; from += per) specs.push({ etcd: opts.etcd, project: opts.project, from, to: Math.min(opts.count, from + per - 1), startMs: opts.startMs, readyMs: opts.readyMs });
  // All processes start together (each starts its agents in chunks). The first writes a CPU profile
  // when asked (see startCoordinatorProcess).
  const started = await Promise.allSettled(specs.map((spec, i) => child('simulated-agents-process.js', spec, `simulated agents s${spec.from}..s${spec.to}`, 60_000 + opts.count * 30, i === 0 ? cpuProfileArgs() : [])));
  for (const r of started) {
    if (r.status !== 'fulfilled') continue;
    procs.push(r.value.proc);
    rssBytes.push(r.value.started.rssBytes ?? 0);
  }
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(procs.map((p) => stopChild(p)));
    throw failed.reason;
  }
  return { rssBytes, stop: async () => void (await Promise.all(procs.map((p) => stopChild(p)))) };
}

export interface CoordinatorProcess {
  stats(): Promise<CoordinatorProcessStats>;
  stop(): Promise<void>;
}

/**
 * The real coordinator, alone in a child process. With BENCH_CPU_PROF_DIR set, it writes a V8 CPU
 * profile there when it stops (open it in Chrome's DevTools): where a pass spends its time.
 */
export async function startCoordinatorProcess(spec: CoordinatorProcessSpec): Promise<CoordinatorProcess> {
  const { proc } = await child('coordinator-process.js', spec, 'coordinator process', 30_000, cpuProfileArgs());
  return {
    stats: () =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('coordinator process: no stats within 10 s')), 10_000);
        const onMessage = (m: Reply) => {
          if (m.type !== 'stats') return;
          clearTimeout(timer);
          proc.off('message', onMessage);
          resolve(m.stats);
        };
        proc.on('message', onMessage);
        proc.send({ type: 'stats' });
      }),
    stop: () => stopChild(proc),
  };
}
