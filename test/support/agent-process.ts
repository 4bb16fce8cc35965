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
      '--lease-ttl', '3',
      ...Object.entries(s.labels ?? {}).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
      ...(s.extraArgs ?? []),
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (chunk: Buffer) => this.logs.push(...chunk.toString().split('\n').filter(Boolean));
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    this.child = child;
    return this;
  }

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

  /** The last log lines, to explain a failed expectation. */
  tail(n = 30): string {
    return this.logs.slice(-n).join('\n');
  }
}
