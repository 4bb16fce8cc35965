import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from './poll';

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const canListen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

/**
 * A free loopback port whose next one is free too, for a service that takes PORT and PORT+1 (the
 * services script's etcd: client and peer). Ephemeral ports are shared with Docker's published
 * ports and every client socket, so a lone free port's neighbour is often taken on a busy machine.
 */
export async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freePort();
    if (port < 65535 && (await canListen(port + 1))) return port;
  }
  throw new Error('no free loopback port with a free neighbour after 50 tries');
}

/**
 * A single-member etcd of a test's own, on free loopback ports, that the test may kill and start
 * again (same ports, same data dir) — for outages the shared etcd must never suffer.
 */
export class OwnEtcd {
  readonly dir = mkdtempSync(join(tmpdir(), 'gantry-etcd-test-'));

  /** `args`: more etcd flags (e.g. a small `--max-request-bytes`). */
  constructor(private readonly args: readonly string[] = []) {}
  /** When the etcd process was last spawned (before it is healthy). */
  spawnedAt = 0;
  private proc?: ChildProcess;
  private clientPort = 0;
  private peerPort = 0;

  get endpoint(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }

  /** Starts it (on the same ports and data dir as before, after the first time) and waits until healthy. */
  async start(): Promise<void> {
    if (!this.clientPort) [this.clientPort, this.peerPort] = [await freePort(), await freePort()];
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const log = openSync(join(this.dir, 'etcd.log'), 'a');
    const proc = spawn(
      'etcd',
      ['--name', 'x', '--data-dir', join(this.dir, 'data'), '--listen-client-urls', this.endpoint, '--advertise-client-urls', this.endpoint,
        '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `x=${peer}`, ...this.args],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    this.proc = proc;
    this.spawnedAt = Date.now();
    const state = await waitFor(
      async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) return 'exited';
        return (await this.healthy()) && 'up';
      },
      { timeoutMs: 30_000, intervalMs: 50, what: `own etcd at ${this.endpoint} to be healthy (log: ${this.dir}/etcd.log)` },
    );
    if (state === 'exited') throw new Error(`own etcd exited at start: ${this.logTail()}`);
  }

  async kill(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
  }

  async destroy(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async healthy(): Promise<boolean> {
    try {
      await promisify(execFile)('etcdctl', ['--endpoints', this.endpoint, '--dial-timeout=1s', '--command-timeout=1s', 'endpoint', 'health'], {
        env: { ...process.env, ETCDCTL_API: '3' },
      });
      return true;
    } catch {
      return false;
    }
  }

  private logTail(): string {
    try {
      return readFileSync(join(this.dir, 'etcd.log'), 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '(no log)';
    }
  }
}
