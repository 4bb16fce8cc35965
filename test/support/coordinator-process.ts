/**
 * The real rollout coordinator (RolloutCoordinator, as `gantryd --coordinator only` runs it) alone
 * in a child process, so that a benchmark can read what it costs: its process's memory and its
 * passes. Driven over IPC: `run` starts it, `stats` answers with process.memoryUsage() and
 * coordinator.stats(), `stop` ends it.
 */
import { Etcd3 } from 'etcd3';
import { createLogger } from '@gantry/agent/dist/agent/logger';
import { RolloutCoordinator } from '@gantry/agent/dist/rollout/coordinator';
import { KeyLayout } from '@gantry/spec';

export interface CoordinatorProcessSpec {
  etcd: string[];
  project: string;
  hostId: string;
}

export interface CoordinatorProcessStats {
  leader: boolean;
  /** Hosts registered in its view (undefined unless it leads with a synced one). */
  registeredHosts: number | undefined;
  memory: NodeJS.MemoryUsage;
  passes: ReturnType<RolloutCoordinator['stats']>;
}

async function run(spec: CoordinatorProcessSpec): Promise<void> {
  const etcd = new Etcd3({ hosts: spec.etcd });
  const coordinator = new RolloutCoordinator({ etcd, keys: new KeyLayout(), project: spec.project, hostId: spec.hostId, log: createLogger({ host: spec.hostId, project: spec.project }, 'error'), leaseTtlS: 10 });
  await coordinator.start();
  const stop = async () => {
    await coordinator.stop().catch(() => undefined);
    etcd.close();
    process.exit(0);
  };
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stats') process.send?.({ type: 'stats', stats: { leader: coordinator.isLeader(), registeredHosts: coordinator.registeredHosts(), memory: process.memoryUsage(), passes: coordinator.stats() } satisfies CoordinatorProcessStats });
    if (m.type === 'stop') void stop();
  });
  process.on('disconnect', () => void stop());
  process.send?.({ type: 'started' });
}

process.once('message', (m: { type: string; spec: CoordinatorProcessSpec }) => {
  if (m.type !== 'run') return;
  run(m.spec).catch((err: Error) => {
    process.send?.({ type: 'error', message: err.message });
    process.exit(1);
  });
});
