import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { createHostEngine, DockerContainerRuntime } from '@gantry/agent';
import { componentStatusSchema, coordinatorRecordSchema, KeyLayout, type ComponentInput, type ComponentStatus } from '@gantry/spec';
import { serviceEnv, waitFor } from '@gantry/testkit';
import { AgentProcess } from './agent-process';
import { demoConfig } from './demo-config';
import { freeHostAddresses } from './local-host';
import { leastPrivilege, onSecureEtcd, secureEtcd, type LeastPrivilege } from './secure-etcd';

export const FLEET_PORT = 80;
export const keys = new KeyLayout();

/**
 * A fleet of real gantryd processes on one etcd — each host its own id (h1, h2, …), loopback
 * address and HAProxy, sharing the one dockerd — running the demo app as component `web`.
 */
export class Fleet {
  readonly project: string;
  readonly stateDir: string;
  readonly etcd: Etcd3;
  agents: AgentProcess[] = [];

  constructor(
    readonly endpoints: string[],
    name = 'fleet',
    /** The test's own client (default: plain, no credentials) and each host's extra gantryd arguments (e.g. its etcd credentials). */
    readonly access: { client?: Etcd3; hostArgs?: (hostId: string) => string[] } = {},
  ) {
    this.project = `${name}-${randomBytes(3).toString('hex')}`;
    this.stateDir = mkdtempSync(join(tmpdir(), `gantry-${name}-`));
    this.etcd = access.client ?? new Etcd3({ hosts: endpoints });
  }

  /**
   * A fleet on the services' etcd — or, with GANTRY_TEST_ETCD=secure, on etcd-secure with least
   * privilege: each host's agent with host credentials only, two `--coordinator only` gantryds
   * (c1, c2) with coordinator credentials, the CLI as an operator (`cliArgs`), the test as root.
   */
  static onServices<T extends Fleet>(this: new (endpoints: string[], name?: string, access?: Fleet['access']) => T, name = 'fleet'): T {
    if (!onSecureEtcd()) return new this(serviceEnv().etcdEndpoints, name);
    const fleet = new this(secureEtcd().endpoints, name);
    const lp = leastPrivilege(fleet.project, fleet.stateDir);
    fleet.etcd.close();
    Object.assign(fleet, { etcd: lp.root, access: { client: lp.root, hostArgs: lp.hostArgs }, leastPrivilege: lp });
    return fleet;
  }

  /** Set on etcd-secure (see onServices). */
  readonly leastPrivilege?: LeastPrivilege;
  /** The `--coordinator only` gantryds of a least-privilege fleet. */
  coordinators: AgentProcess[] = [];

  /** `--etcd ENDPOINTS` and, on etcd-secure, the operator's credentials: what a CLI run by the test passes. */
  cliArgs(): string[] {
    return this.leastPrivilege ? this.leastPrivilege.operatorArgs : ['--etcd', this.endpoints.join(',')];
  }

  /** The gantryd that has this id: a host's agent or a coordinator. */
  processOf(id: string): AgentProcess | undefined {
    return [...this.agents, ...this.coordinators].find((p) => p.spec.hostId === id);
  }

  async start(count: number, configOverrides: Partial<ComponentInput> = {}, agentArgs: string[] = []): Promise<void> {
    await this.etcd.put(keys.config(this.project)).value(JSON.stringify(demoConfig(FLEET_PORT, configOverrides)));
    const addresses = await freeHostAddresses(count, FLEET_PORT);
    this.agents = addresses.map((bindAddress, i) =>
      new AgentProcess({ hostId: `h${i + 1}`, project: this.project, bindAddress, stateDir: this.stateDir, etcd: this.endpoints, extraArgs: [...agentArgs, ...(this.access.hostArgs?.(`h${i + 1}`) ?? [])] }).start(),
    );
    const lp = this.leastPrivilege;
    if (lp) {
      this.coordinators = ['c1', 'c2'].map((name) =>
        new AgentProcess({ hostId: name, project: this.project, bindAddress: '127.0.0.1', stateDir: this.stateDir, etcd: this.endpoints, extraArgs: ['--coordinator', 'only', ...lp.coordinatorArgs(name)] }).start(),
      );
    }
  }

  /** Starts `count` hosts, sets the fleet's version and waits until every host runs it and a coordinator is elected. */
  async startServing(count: number, version: string, configOverrides: Partial<ComponentInput> = {}, agentArgs: string[] = []): Promise<void> {
    await this.start(count, configOverrides, agentArgs);
    await this.setFleetVersion(version);
    await this.converged(version);
    await waitFor(() => this.coordinator(), { what: 'a coordinator to be elected' });
  }

  /**
   * Starts host i's agent again after it died, once etcd has let go of its registration (bound to
   * the dead agent's lease): until then a new gantryd for that host id is refused (exit 4), as a
   * supervisor's restart would be. Returns how long the registration took to go (ms).
   */
  async restart(i: number): Promise<number> {
    const since = Date.now();
    const key = keys.registration(this.project, this.agents[i].spec.hostId);
    await waitFor(async () => (await this.etcd.get(key).string()) === null, { timeoutMs: 30_000, intervalMs: 50, what: `${key} to expire` });
    this.agents[i] = new AgentProcess(this.agents[i].spec).start();
    return Date.now() - since;
  }

  url(i: number, path = '/'): string {
    return `http://${this.agents[i].spec.bindAddress}:${FLEET_PORT}${path}`;
  }

  async setFleetVersion(version: string): Promise<void> {
    await this.etcd.put(keys.fleetDesired(this.project, 'web')).value(JSON.stringify({ version, setBy: 'test' }));
  }

  async status(i: number): Promise<ComponentStatus | undefined> {
    const text = await this.etcd.get(keys.status(this.project, this.agents[i].spec.hostId, 'web')).string();
    return text === null ? undefined : componentStatusSchema.parse(JSON.parse(text));
  }

  /** The host id of the elected coordinator, if any. */
  async coordinator(): Promise<string | undefined> {
    const text = await this.etcd.get(keys.coordinator(this.project)).string();
    return text === null ? undefined : coordinatorRecordSchema.parse(JSON.parse(text)).hostId;
  }

  async hostKey(i: number): Promise<string | null> {
    return this.etcd.get(keys.hostDesired(this.project, this.agents[i].spec.hostId, 'web')).string();
  }

  /**
   * Waits until each agent in `which` (default all) reports `version` running with exactly one
   * container: after the update was done, until its old containers' background teardowns ended too.
   */
  async converged(version: string, timeoutMs = 90_000, which = this.agents.map((_, i) => i)): Promise<void> {
    await Promise.all(
      which.map((i) =>
        waitFor(
          async () => {
            const s = await this.status(i);
            return s?.phase === 'running' && s.version === version && s.containers.length === 1;
          },
          { timeoutMs, what: `${this.agents[i].spec.hostId} to run ${version}` },
        ).catch((err: Error) => {
          // The agent's log as it is at the deadline, not as it was when the wait began.
          throw new Error(`${err.message}\n${this.agents[i].tail()}`);
        }),
      ),
    );
  }

  async containers(i: number) {
    const runtime = new DockerContainerRuntime({ dockerHost: serviceEnv().dockerHost });
    return runtime.list({ project: this.project, hostId: this.agents[i].spec.hostId });
  }

  /** Kills the agents, removes their containers and HAProxies, deletes the project's keys. */
  async cleanup(): Promise<void> {
    await Promise.all([...this.agents, ...this.coordinators].map((a) => a.kill('SIGKILL')));
    for (const agent of this.agents) {
      const { runtime, proxy } = createHostEngine({ stateDir: this.stateDir, hostId: agent.spec.hostId, dockerHost: serviceEnv().dockerHost });
      for (const c of await runtime.list({ project: this.project, hostId: agent.spec.hostId })) await runtime.remove(c.id);
      await proxy.stop();
    }
    await this.etcd.delete().prefix(keys.project(this.project));
    this.etcd.close();
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}
