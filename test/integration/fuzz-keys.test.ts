/**
 * What other tooling writes under the prefix never stops Gantry: three real gantryd agents (one the
 * elected coordinator) under load, a rollout running, and a few hundred generated keys and values
 * across the whole layout written to the real etcd meanwhile. Every agent stays alive, every host
 * keeps serving, the rollout completes, no request fails, and the problems show where the operator
 * looks. Also the regression test of the crash that started this: one `etcdctl put` of a rollout
 * request under a component name with a space in it made every elected coordinator exit.
 */
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { agentStatusSchema, coordinatorRecordSchema, parseRecord, rolloutHistoryEntrySchema, rolloutRequestSchema, type KeyKind } from '@gantry/spec';
import { ensureDemoImages, hugeText, layoutKey, loadTotals, serviceEnv, startLoad, storedText, waitFor, type LoadRun } from '@gantry/testkit';
import { runGantry } from '../support/cli';
import { Fleet, keys } from '../support/fleet';

const HOSTS = 3;
const FUZZ_PAIRS = 300;

class FuzzFleet extends Fleet {
  /** The problems host `i`'s agent record reports. */
  async agentProblems(i: number): Promise<Array<{ key?: string; reason: string }>> {
    const text = await this.etcd.get(keys.agent(this.project, this.agents[i].spec.hostId)).string();
    return text === null ? [] : agentStatusSchema.parse(JSON.parse(text)).problems;
  }

  index(hostId: string): number {
    return this.agents.findIndex((a) => a.spec.hostId === hostId);
  }

  /** No agent died, and none ever reached its last-resort crash handler. */
  expectAllAlive(): void {
    for (const agent of this.agents) {
      expect({ host: agent.spec.hostId, running: agent.running, crashLines: agent.logs.filter((l) => l.includes('"event":"crash"')) }).toEqual({ host: agent.spec.hostId, running: true, crashLines: [] });
    }
  }
}

const request = (id: string, component: string, toVersion: string) =>
  JSON.stringify({ id, component, toVersion, policy: rolloutRequestSchema.shape.policy.parse({}), createdBy: 'fuzz', createdAt: new Date().toISOString() });

const gantry = (...args: string[]) => runGantry([...args, '--etcd', serviceEnv().etcdEndpoints.join(',')]);

beforeAll(() => ensureDemoImages(), 600_000);

describe('bad keys and values from other tooling', () => {
  let fleet: FuzzFleet;
  beforeAll(async () => {
    fleet = new FuzzFleet(serviceEnv().etcdEndpoints, 'fuzz');
    await fleet.start(HOSTS, { readyTimeout: 6_000, drainTimeout: 4_000 });
    await fleet.setFleetVersion('v1');
    await fleet.converged('v1');
    await waitFor(() => fleet.coordinator(), { what: 'a coordinator to be elected' });
  }, 180_000);
  afterAll(() => fleet?.cleanup(), 120_000);

  it('regression: a rollout request under an invalid component name is reported by every elected coordinator, which stays alive', async () => {
    const badKey = `${keys.rolloutsPrefix(fleet.project)}bad name/request`;
    const etcdctl = spawnSync('etcdctl', ['--endpoints', serviceEnv().etcdEndpoints.join(','), 'put', badKey, request('r-bad', 'bad name', 'v2')], {
      encoding: 'utf8',
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    expect({ status: etcdctl.status, stderr: etcdctl.stderr }).toEqual({ status: 0, stderr: '' });

    const first = (await fleet.coordinator())!;
    const reported = (i: number) => async () => (await fleet.agentProblems(i)).some((p) => p.key === badKey && /invalid component name "bad name"/.test(p.reason));
    await waitFor(reported(fleet.index(first)), { what: `coordinator ${first} to report ${badKey}\n${fleet.agents[fleet.index(first)].tail()}` });
    fleet.expectAllAlive();
    expect(await fleet.coordinator()).toBe(first);

    // The operator sees it in `gantry rollout status` of any component, naming the key.
    const status = gantry('rollout', 'status', fleet.project, 'web', '--json');
    expect(JSON.parse(status.stdout).problems).toEqual([expect.stringContaining(badKey)]);

    // The next elected agent read the same key and died the same way: kill the coordinator, the next one reports it too.
    const t0 = Date.now();
    await fleet.agents[fleet.index(first)].kill('SIGKILL');
    const next = await waitFor(async () => {
      const c = await fleet.coordinator();
      return c !== undefined && c !== first ? c : undefined;
    }, { timeoutMs: 30_000, what: 'another coordinator after the first was killed' });
    await waitFor(reported(fleet.index(next)), { what: `the new coordinator ${next} to report ${badKey}` });
    console.log(`regression: coordinator ${first} SIGKILLed; ${next} took over and reported ${badKey} after ${Date.now() - t0} ms`);
    // A restarted agent is refused while its old registration lives (its lease): wait for it to expire first.
    await waitFor(async () => (await fleet.etcd.get(keys.registration(fleet.project, first)).string()) === null, { what: `the registration of the killed ${first} to expire` });
    fleet.agents[fleet.index(first)].start();
    await waitFor(async () => (await fleet.etcd.get(keys.registration(fleet.project, first)).string()) !== null, { what: `the restarted ${first} to register` });
    await fleet.converged('v1');
    fleet.expectAllAlive();
    await fleet.etcd.delete().key(badKey);
    await waitFor(async () => !(await reported(fleet.index(next))()), { what: 'the problem to clear once the key is deleted' });
  }, 120_000);

  it('a few hundred generated keys and values across the layout, written during a rollout under load: nothing stops, 0 failed requests', async () => {
    const space = { layout: keys, projects: [fleet.project, 'other-project'], hosts: ['h1', 'h2', 'h3', 'h9'], components: ['web', 'api'] };
    // Only what no operator would write on purpose: a key that names nothing valid, or a value its kind refuses.
    // Left out: valid records (operator intent: a valid abort aborts); live agents' registrations (a second gantryd test has those);
    // and the keys of the rollout under way — its request, state, fleet key and host pins — where garbage
    // holds that rollout by design (reported, tested apart). Garbage at the other component's keys must not.
    const live = new Set([
      ...fleet.agents.flatMap((a) => [keys.registration(fleet.project, a.spec.hostId), keys.hostDesired(fleet.project, a.spec.hostId, 'web')]),
      keys.rolloutRequest(fleet.project, 'web'),
      keys.rolloutState(fleet.project, 'web'),
      keys.fleetDesired(fleet.project, 'web'),
    ]);
    const pairs: Array<[string, string]> = [];
    const byKind = new Map<string, number>();
    for (const [key, text] of fc.sample(fc.tuple(layoutKey(space), storedText), { numRuns: FUZZ_PAIRS * 20, seed: 8 })) {
      if (pairs.length >= FUZZ_PAIRS) break;
      const record = parseRecord(keys, key, text);
      if (live.has(key) || key === keys.coordinator(fleet.project) || (record && record.problem === undefined)) continue;
      pairs.push([key, text]);
      const kind: KeyKind | 'outside' | 'invalid key' = !record ? 'outside' : (record.ref?.kind ?? 'invalid key');
      byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
    }
    // Garbage over every live agent's own status and record (each agent writes its own back).
    for (const a of fleet.agents) pairs.push([keys.status(fleet.project, a.spec.hostId, 'web'), '{"phase": "exploded"'], [keys.agent(fleet.project, a.spec.hostId), 'not json']);
    // And values near etcd's request limit (1.5 MiB) at the keys agents read first.
    pairs.push([keys.config(fleet.project), hugeText()], [keys.fleetDesired(fleet.project, 'api'), hugeText()]);

    const loads: LoadRun[] = fleet.agents.map((_, i) => startLoad({ url: fleet.url(i), connections: 2, rate: 40 }));
    await waitFor(() => loads.every((l) => l.snapshot().ok > 10), { what: 'load to flow' });
    await fleet.etcd.put(keys.rolloutRequest(fleet.project, 'web')).value(request('fuzz-v2', 'web', 'v2'));

    const t0 = Date.now();
    let refused = 0;
    for (let i = 0; i < pairs.length; i += 20) {
      const results = await Promise.allSettled(pairs.slice(i, i + 20).map(([key, text]) => fleet.etcd.put(key).value(text)));
      refused += results.filter((r) => r.status === 'rejected').length;
    }
    // Bytes that are not UTF-8 at all, in keys and values (strings above are always valid UTF-8).
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x7b]);
    for (const key of [keys.fleetDesired(fleet.project, 'api'), `${keys.hostsPrefix(fleet.project)}h1/status/`, `${keys.rolloutsPrefix(fleet.project)}api/state`]) {
      await fleet.etcd.put(Buffer.concat([Buffer.from(key), bytes])).value(bytes);
      await fleet.etcd.put(key).value(bytes);
    }
    const writtenMs = Date.now() - t0;

    const history = await waitFor(async () => (await fleet.etcd.get(keys.rolloutHistory(fleet.project, 'web', 'fuzz-v2')).string()) ?? undefined, {
      timeoutMs: 180_000,
      intervalMs: 250,
      what: `rollout fuzz-v2 in history\n${fleet.agents.map((a) => a.tail(8)).join('\n')}`,
    });
    const entry = rolloutHistoryEntrySchema.parse(JSON.parse(history));
    await fleet.converged('v2').catch(async (err) => {
      const why = await Promise.all(fleet.agents.map(async (a, i) => `${a.spec.hostId}: pin ${await fleet.hostKey(i)} status ${JSON.stringify(await fleet.status(i))}`));
      throw new Error(`${(err as Error).message}\nrollout: ${JSON.stringify(entry.state)}\n${why.join('\n')}`);
    });
    const reports = await Promise.all(loads.map((l) => l.stop()));
    const { sent, failed, samples } = loadTotals(reports);
    const problems = await Promise.all(fleet.agents.map((_, i) => fleet.agentProblems(i)));
    console.log(
      `fuzz: wrote ${pairs.length} keys (${refused} refused by etcd) and 6 of raw non-UTF-8 bytes in ${writtenMs} ms; by kind ${JSON.stringify(Object.fromEntries(byKind))}; ` +
        `rollout ${entry.state.state} in ${Date.now() - t0} ms; requests sent ${sent}, failed ${failed}; problems in agent records: ${problems.map((p) => p.length).join(', ')}`,
    );

    fleet.expectAllAlive();
    expect(entry.state.state).toBe('succeeded');
    // The records only the agents write hold what they wrote again (never left as garbage).
    for (const [i, a] of fleet.agents.entries()) {
      await waitFor(async () => (await fleet.status(i).catch(() => undefined))?.version === 'v2', { what: `${a.spec.hostId}'s status to be its own again` });
      await waitFor(async () => fleet.agentProblems(i).then(() => true, () => false), { what: `${a.spec.hostId}'s agent record to be valid again` });
    }
    expect({ failed, samples }).toEqual({ failed: 0, samples: [] });
    expect(sent).toBeGreaterThan(100);
    // Where the operator looks: each agent names the invalid config key; the coordinator names bad rollout keys.
    for (const p of problems) expect(p.some((x) => x.key === keys.config(fleet.project) && /components\[0\]\.repo/.test(x.reason))).toBe(true);
    const status = gantry('status', '--project', fleet.project, '--json');
    expect(status.status).toBe(0);
    expect(JSON.parse(status.stdout).rows.filter((r: { kind: string }) => r.kind === 'invalid').length).toBeGreaterThan(0);
  }, 300_000);

  it('garbage at the coordinator key, written without a lease, does not leave the fleet without a coordinator', async () => {
    for (const garbage of ['{"not": "a record"', JSON.stringify({ hostId: 'ghost', since: new Date().toISOString(), leaseId: '1' })]) {
      const t0 = Date.now();
      await fleet.etcd.put(keys.coordinator(fleet.project)).value(garbage);
      const leader = await waitFor(async () => {
        const text = await fleet.etcd.get(keys.coordinator(fleet.project)).string();
        const parsed = text === null ? undefined : coordinatorRecordSchema.safeParse(JSON.parse(text.startsWith('{"not"') ? '{}' : text));
        return parsed?.success && parsed.data.hostId !== 'ghost' ? parsed.data.hostId : undefined;
      }, { timeoutMs: 15_000, what: 'an agent to take the coordinator key back' });
      console.log(`coordinator key overwritten by hand (${garbage.slice(0, 20)}…): ${leader} leads again after ${Date.now() - t0} ms`);
    }
    fleet.expectAllAlive();
  }, 60_000);

  it('a rollout whose state is unreadable is held, never re-planned, and an abort still ends it', async () => {
    const [stateKey, requestKey] = [keys.rolloutState(fleet.project, 'api'), keys.rolloutRequest(fleet.project, 'api')];
    await fleet.etcd.put(stateKey).value('{"rollout": "held-1", "state": "exploded"');
    await fleet.etcd.put(requestKey).value(request('held-1', 'api', 'v2'));
    const leader = fleet.index((await fleet.coordinator())!);
    await waitFor(async () => (await fleet.agentProblems(leader)).some((p) => p.key === stateKey && /rollout held-1 is held: its state is invalid/.test(p.reason)), {
      what: `the coordinator to report ${stateKey} as holding the rollout\n${fleet.agents[leader].tail()}`,
    });
    // Held: no host was told anything for it (the earlier fuzz left garbage pins of api; none is this rollout's).
    const pins = Object.entries(await fleet.etcd.getAll().prefix(keys.hostsPrefix(fleet.project)).strings());
    expect(pins.filter(([k, v]) => { const r = parseRecord(keys, k, v); return r?.ref?.kind === 'host-desired' && r.problem === undefined && (r.value as { rollout?: string }).rollout === 'held-1'; })).toEqual([]);
    const t0 = Date.now();
    await fleet.etcd.put(keys.rolloutControl(fleet.project, 'api')).value(JSON.stringify({ rollout: 'held-1', action: 'abort', by: 'fuzz', at: new Date().toISOString() }));
    const text = await waitFor(async () => (await fleet.etcd.get(keys.rolloutHistory(fleet.project, 'api', 'held-1')).string()) ?? undefined, { what: 'the held rollout in history' });
    expect(rolloutHistoryEntrySchema.parse(JSON.parse(text)).state).toMatchObject({ state: 'aborted', message: expect.stringMatching(/aborted by fuzz; its state at .* was invalid/) });
    expect(await fleet.etcd.get(requestKey).string()).toBeNull();
    expect(await fleet.etcd.get(stateKey).string()).toBeNull();
    console.log(`held rollout with an unreadable state: aborted into history ${Date.now() - t0} ms after the abort`);
    fleet.expectAllAlive();
  }, 60_000);
});
