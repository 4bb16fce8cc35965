import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot, serviceEnv } from '@gantry/testkit';

export interface AgentSpec {
  hostId: string;
  project: string;
  bindAddress: string;
  stateDir: string;
  etcd: string[];
  labels?: Record<string, string>;
  extraArgs?: string[];
  /** `--lease-ttl` (default 3 s: a dead agent's registration goes quickly). */
  leaseTtlS?: number;
  /** Extra environment, e.g. GANTRY_LOG_LEVEL. */
  env?: Record<string, string>;
}

/** A real gantryd process for one simulated host, as an operator would run it. */
export class AgentProcess {
  private child?: ChildProcess;
  /** The agent's JSON log lines, for assertions and for the failure message. */
  readonly logs: string[] = [];

  constructor(readonly spec: AgentSpec) {}

  start(): this {
    const s = this.spec;
    const args = [
      join(repoRoot(), 'packages/agent/bin/gantryd.js'),
      '--etcd', s.etcd.join(','),
      '--host', s.hostId,
      '--project', s.project,
      '--bind', s.bindAddress,
      '--state-dir', s.stateDir,
      '--docker-host', serviceEnv().dockerHost,
      '--haproxy', serviceEnv().haproxyBin,
      '--lease-ttl', String(s.leaseTtlS ?? 3),
      ...Object.entries(s.labels ?? {}).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
      // Every host of a test shares one dockerd: one host pruning a version the others still pull
      // or start would be a race real hosts (a dockerd each) never have. Retention is tested where
      // a test asks for it (--keep-images N).
      ...(s.extraArgs?.includes('--keep-images') ? [] : ['--keep-images', '0']),
      ...(s.extraArgs ?? []),
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...s.env } });
    // Lines can straddle chunks: keep the unfinished tail until its newline arrives.
    let partial = '';
    const collect = (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line) this.onLine(line);
    };
    this.closed = new Promise((resolve) => child.once('close', (code) => resolve(code)));
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    this.child = child;
    return this;
  }

  /** The gantryd process's pid (once started). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Resolves with the exit code (null if killed by a signal) once the process has exited and its last log line is in. */
  exited(): Promise<number | null> {
    return this.closed ?? Promise.reject(new Error('not started'));
  }

  private closed?: Promise<number | null>;

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends `signal` and resolves once the process has exited. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  private readonly listeners: Array<(line: string) => void> = [];

  /** Calls `listener` with every log line from now on. */
  onLog(listener: (line: string) => void): void {
    this.listeners.push(listener);
  }

  private onLine(line: string): void {
    this.logs.push(line);
    for (const l of this.listeners) l(line);
  }

  /** The last log lines, to explain a failed expectation. */
  tail(n = 30): string {
    return this.logs.slice(-n).join('\n');
  }
}
