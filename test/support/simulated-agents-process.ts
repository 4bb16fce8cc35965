/**
 * SIMULATION, one child process of a simulated fleet: runs hosts `from`..`to` (ids `s<n>`) as real
 * `Agent`s, each hundred sharing one etcd client, each agent with an in-memory engine
 * (simulated-host.ts). They are no coordinator candidates: the fleet's coordinator runs apart
 * (coordinator-process.ts), as on a fleet with a control host. Driven over IPC by simulated-fleet.ts.
 */
import { Etcd3 } from 'etcd3';
import { Agent } from '@gantry/agent/dist/agent/agent';
import { createLogger } from '@gantry/agent/dist/agent/logger';
import { KeyLayout } from '@gantry/spec';
import { simulatedEngine } from './simulated-host';

export interface SimulatedAgentsSpec {
  etcd: string[];
  project: string;
  from: number;
  to: number;
  startMs: number;
  readyMs: number;
}

/**
 * Agents opening leases and watches all at once only measure a thundering herd: they start in
 * chunks. Each chunk has an etcd client of its own: etcd3 finds the watcher of each watch response
 * by walking its client's list of watchers, so 2,500 agents (17,500 watchers) on one client spend
 * their time in that walk — a cost no host has, whose one agent has one client.
 */
const CHUNK = 100;

async function run(spec: SimulatedAgentsSpec): Promise<void> {
  const clients: Etcd3[] = [];
  const keys = new KeyLayout();
  const log = createLogger({ host: 'sim', project: spec.project }, 'error');
  const agents: Agent[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // In chunks, as they started: 10,000 lease revokes at once overrun etcd (`too many requests`),
      // and a lease left unrevoked expires two minutes later, in the middle of whatever runs then.
      for (let i = 0; i < agents.length; i += CHUNK) await Promise.all(agents.slice(i, i + CHUNK).map((a) => a.stop().catch(() => undefined)));
      for (const etcd of clients) etcd.close();
      process.exit(0);
    })());
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stop') void stop();
  });
  process.on('disconnect', () => void stop());
  for (let i = spec.from; i <= spec.to; i += CHUNK) {
    const etcd = new Etcd3({ hosts: spec.etcd });
    clients.push(etcd);
    const chunk: Agent[] = [];
    for (let n = i; n <= Math.min(spec.to, i + CHUNK - 1); n++) {
      const hostId = `s${n}`;
      chunk.push(
        new Agent({
          etcd,
          keys,
          engine: simulatedEngine({ startMs: spec.startMs, readyMs: spec.readyMs }),
          ctx: { project: spec.project, hostId, bindAddress: '127.0.0.1', publishAddress: '127.0.0.1' },
          labels: {},
          agentVersion: 'sim',
          log: log.child({ host: hostId }),
          // Long leases: 10,000 keepalive streams on two shared cores must not starve into lost hosts.
          leaseTtlS: 120,
          resyncMs: 300_000,
          proxyWatchMs: 60_000,
          coordinatorMode: 'never',
        }),
      );
    }
    agents.push(...chunk);
    await Promise.all(chunk.map((a) => a.start()));
  }
  process.send?.({ type: 'started', agents: agents.length, rssBytes: process.memoryUsage().rss });
}

process.once('message', (m: { type: string; spec: SimulatedAgentsSpec }) => {
  if (m.type !== 'run') return;
  run(m.spec).catch((err: Error) => {
    process.send?.({ type: 'error', message: err.message });
    process.exit(1);
  });
});
