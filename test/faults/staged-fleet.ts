import { DockerContainerRuntime } from '@gantry/agent';
import { rolloutHistoryEntrySchema, rolloutStateSchema, type RolloutHistoryEntry, type RolloutState } from '@gantry/spec';
import { serviceEnv, waitFor } from '@gantry/testkit';
import { AgentProcess } from '../support/agent-process';
import { demoConfig } from '../support/demo-config';
import { Fleet, FLEET_PORT, keys } from '../support/fleet';
import { freeHostAddresses } from '../support/local-host';
import { lastJson, runGantryAsync } from '../support/cli';

/**
 * A fleet whose agents start one by one, so the test knows who coordinates: h1 starts alone and is
 * elected before the others start. Each agent may reach etcd through its own endpoints (a relay).
 */
export class StagedFleet extends Fleet {
  async startStaged(count: number, etcdFor: (i: number) => string[] = () => this.endpoints): Promise<void> {
    await this.etcd.put(keys.config(this.project)).value(JSON.stringify(demoConfig(FLEET_PORT, { readyTimeout: 4_000, drainTimeout: 5_000 })));
    await this.setFleetVersion('v1');
    const addresses = await freeHostAddresses(count, FLEET_PORT);
    const spec = (i: number) => ({ hostId: `h${i + 1}`, project: this.project, bindAddress: addresses[i], stateDir: this.stateDir, etcd: etcdFor(i) });
    this.agents = [new AgentProcess(spec(0)).start()];
    await waitFor(async () => (await this.coordinator()) === 'h1', { timeoutMs: 30_000, what: `h1 to be elected coordinator\n${this.agents[0].tail()}` });
    for (let i = 1; i < count; i++) this.agents.push(new AgentProcess(spec(i)).start());
    await this.converged('v1');
  }

  /** `gantry deploy … --no-wait`, as an operator starts a rollout; resolves with its id. */
  async deploy(tag: string, flags: string[]): Promise<string> {
    const res = await runGantryAsync(['deploy', this.project, 'web', '--tag', tag, '--no-wait', '--json', '--etcd', this.endpoints.join(','), ...flags]);
    if (res.status !== 0) throw new Error(`gantry deploy exited ${res.status}: ${res.stderr}${res.stdout}`);
    return String(lastJson(res.stdout).id);
  }

  async state(): Promise<RolloutState | undefined> {
    const text = await this.etcd.get(keys.rolloutState(this.project, 'web')).string();
    return text === null ? undefined : rolloutStateSchema.parse(JSON.parse(text));
  }

  async history(id: string, timeoutMs = 120_000, intervalMs = 100): Promise<RolloutHistoryEntry> {
    const text = await waitFor(async () => (await this.etcd.get(keys.rolloutHistory(this.project, 'web', id)).string()) ?? undefined, {
      timeoutMs,
      intervalMs,
      what: `rollout ${id} in history\n${this.agents.map((a) => a.tail(8)).join('\n')}`,
    });
    return rolloutHistoryEntrySchema.parse(JSON.parse(text));
  }

  async registered(i: number): Promise<boolean> {
    return (await this.etcd.get(keys.registration(this.project, this.agents[i].spec.hostId)).string()) !== null;
  }

  /** Every container id of each version each host had while it ran (docker polled every 200 ms). */
  containerWatch(): { stop: () => Promise<Map<string, Map<string, Set<string>>>> } {
    const runtime = new DockerContainerRuntime({ dockerHost: serviceEnv().dockerHost });
    const seen = new Map<string, Map<string, Set<string>>>();
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        for (const agent of this.agents) {
          const host = agent.spec.hostId;
          for (const c of await runtime.list({ project: this.project, hostId: host }).catch(() => [])) {
            const byVersion = seen.get(host) ?? new Map<string, Set<string>>();
            seen.set(host, byVersion);
            const ids = byVersion.get(c.version) ?? new Set<string>();
            byVersion.set(c.version, ids);
            ids.add(c.id);
          }
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    return {
      stop: async () => {
        stopped = true;
        await loop;
        return seen;
      },
    };
  }
}
