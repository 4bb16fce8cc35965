/**
 * A write etcd refuses is shown where the operator looks. A REAL etcd of the test's own, started
 * with a small `--max-request-bytes` (8 KiB for the 1.5 MiB default), one real `Agent` (its real
 * coordinator) over a SIMULATED engine (no Docker, no HAProxy: nothing here is about containers).
 * The rollout's request is just under the limit (a host selector naming hundreds of hosts), so
 * its history entry, which carries the request and the state, is over it: the finishing write is
 * refused every time. The coordinator must name the key and etcd's reason in its agent record,
 * keep the rollout as it was (no half-done finish), and say nothing more once writes go through.
 */
import { Etcd3 } from 'etcd3';
import { agentStatusSchema, KeyLayout, rolloutRequestSchema, rolloutStateSchema, type AgentStatus } from '@gantry/spec';
import { OwnEtcd, waitFor } from '@gantry/testkit';
import { Agent } from '../../packages/agent/src/agent/agent';
import { createLogger } from '../../packages/agent/src/agent/logger';
import { demoConfig } from '../support/demo-config';
import { SimulatedProxy, SimulatedRuntime } from '../support/simulated-host';

const keys = new KeyLayout();
const LIMIT = 8_192;
const project = 'refused';

describe('a coordinator write etcd refuses (real etcd with --max-request-bytes 8192, simulated engine)', () => {
  const own = new OwnEtcd(['--max-request-bytes', String(LIMIT)]);
  let etcd: Etcd3;
  let agent: Agent | undefined;
  beforeAll(async () => {
    await own.start();
    etcd = new Etcd3({ hosts: own.endpoint });
  }, 60_000);
  afterAll(async () => {
    await agent?.stop().catch(() => undefined);
    etcd?.close();
    await own.destroy();
  }, 60_000);

  const agentRecord = async (): Promise<AgentStatus | undefined> => {
    const text = await etcd.get(keys.agent(project, 'h1')).string();
    return text === null ? undefined : agentStatusSchema.parse(JSON.parse(text));
  };

  it('is named by key with etcd\'s reason in the agent record; the rollout stays as it was; the problem goes once a write commits', async () => {
    await etcd.put(keys.config(project)).value(JSON.stringify(demoConfig(80, { readyChecks: [], healthChecks: [], drainTimeout: 1_000 })));
    await etcd.put(keys.fleetDesired(project, 'web')).value(JSON.stringify({ version: 'v1', setBy: 'test' }));
    agent = new Agent({
      etcd,
      keys,
      engine: { runtime: new SimulatedRuntime(), proxy: new SimulatedProxy() },
      ctx: { project, hostId: 'h1', bindAddress: '127.0.0.1', publishAddress: '127.0.0.1' },
      labels: {},
      agentVersion: 'sim',
      log: createLogger({ host: 'h1', project }, process.env.GANTRY_LOG_LEVEL ?? 'error'),
      leaseTtlS: 5,
      coordinator: { tickMs: 100 },
    });
    await agent.start();
    await waitFor(() => agent!.coordinatorRegisteredHosts() === 1, { what: 'h1 leading, seeing itself registered' });

    // Hosts that do not exist pad the request to just under the limit; only h1 is selected.
    const ids = ['h1'];
    const request = () => rolloutRequestSchema.parse({ id: 'r-big', component: 'web', toVersion: 'v2', policy: { hosts: { ids } }, createdBy: 'test', createdAt: new Date().toISOString() });
    while (JSON.stringify(request()).length < LIMIT - 700) ids.push(`absent-host-${ids.length}`);
    const text = JSON.stringify(request());
    await etcd.put(keys.rolloutRequest(project, 'web')).value(text);
    console.log(`request of ${text.length} bytes (${ids.length - 1} absent hosts) under etcd's limit of ${LIMIT}`);

    const historyKey = keys.rolloutHistory(project, 'web', 'r-big');
    const refusedAt = Date.now();
    const record = await waitFor(async () => {
      const r = await agentRecord();
      return r?.problems.some((p) => p.key === historyKey) ? r : undefined;
    }, { timeoutMs: 30_000, what: 'the refused history write in the agent record' });
    const problem = record.problems.find((p) => p.key === historyKey)!;
    console.log(`refused write shown ${Date.now() - refusedAt} ms after the request: ${problem.reason}`);
    expect(problem.reason).toMatch(/^etcd refused the coordinator's write for rollout r-big of web as too large \(\d+ key\(s\), \d+ bytes, this key \d+; etcd's --max-request-bytes/);
    expect(problem.reason).toMatch(/request is too large/);
    expect(problem.reason).toMatch(/retrying$/);

    // Nothing half-done: the request and the state stay, no history entry, h1 keeps what it was told.
    expect(await etcd.get(historyKey).string()).toBeNull();
    expect(await etcd.get(keys.rolloutRequest(project, 'web')).string()).toBe(text);
    const state = rolloutStateSchema.parse(JSON.parse((await etcd.get(keys.rolloutState(project, 'web')).string())!));
    // The last state written (h1's "done" rode on the finish that was refused).
    expect(state).toMatchObject({ rollout: 'r-big', state: 'running', hosts: [{ id: 'h1', result: expect.stringMatching(/^(updating|done)$/) }] });
    expect(JSON.parse((await etcd.get(keys.hostDesired(project, 'h1', 'web')).string())!)).toMatchObject({ version: 'v2', rollout: 'r-big' });

    // The operator shortens the request (what the reason points at): the finish commits, the problem goes.
    ids.splice(1);
    await etcd.put(keys.rolloutRequest(project, 'web')).value(JSON.stringify(request()));
    await waitFor(async () => (await etcd.get(historyKey).string()) ?? undefined, { timeoutMs: 30_000, what: 'the rollout in history' });
    await waitFor(async () => {
      const r = await agentRecord();
      return r && !r.problems.some((p) => p.key === historyKey) ? r : undefined;
    }, { timeoutMs: 10_000, what: 'the problem gone from the agent record' });
  });
});
