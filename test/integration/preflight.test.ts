/**
 * A rollout's preflight on three real gantryd agents (one shared dockerd, one HAProxy each): every
 * selected host pulls the new image before any host moves. A tag the registry does not have fails
 * the rollout naming every host, with no host touched and traffic untouched; a good tag is pulled
 * by every host first, and then each update starts with the image present (no pull in the update).
 */
import { PrefixWatcher } from '@gantry/etcd';
import { componentStatusSchema, rolloutStateSchema, type PrepullStatus } from '@gantry/spec';
import { ensureDemoImages, loadTotals, startLoad, waitFor } from '@gantry/testkit';
import { Fleet, keys } from '../support/fleet';
import { lastJson, runGantryAsync } from '../support/cli';
import { publishDemoRepo } from '../support/demo-repo';

const HOSTS = 3;

/** Everything written under the project's hosts and rollouts while `run` runs: host-desired puts, prepull answers, rollout states. */
async function watchFleet(fleet: Fleet) {
  const seen = { order: [] as string[], hostDesiredPuts: [] as string[], prepull: [] as { host: string; prepull: PrepullStatus }[], states: [] as string[] };
  const hosts = new PrefixWatcher({
    client: fleet.etcd,
    prefix: keys.hostsPrefix(fleet.project),
    onSnapshot: () => undefined,
    onChange: (c) => {
      const ref = keys.parse(c.key);
      if (ref?.kind === 'host-desired' && c.type === 'put') {
        seen.hostDesiredPuts.push(`${ref.host} ${c.value}`);
        seen.order.push(`desired ${ref.host}`);
      }
      if (ref?.kind === 'status' && c.type === 'put') {
        const prepull = componentStatusSchema.parse(JSON.parse(c.value!)).prepull;
        if (prepull) seen.prepull.push({ host: ref.host, prepull });
        if (prepull?.state === 'pulled' && !seen.order.includes(`pulled ${ref.host}`)) seen.order.push(`pulled ${ref.host}`);
      }
    },
  });
  const rollouts = new PrefixWatcher({
    client: fleet.etcd,
    prefix: keys.rolloutsPrefix(fleet.project),
    onSnapshot: () => undefined,
    onChange: (c) => {
      if (keys.parse(c.key)?.kind === 'rollout-state' && c.type === 'put') seen.states.push(rolloutStateSchema.parse(JSON.parse(c.value!)).state);
    },
  });
  await Promise.all([hosts.start(), rollouts.start()]);
  return { seen, stop: () => Promise.all([hosts.stop(), rollouts.stop()]) };
}

beforeAll(() => ensureDemoImages(), 600_000);

describe('preflight: every host pulls before any host moves', () => {
  let fleet: Fleet;
  let demo: Awaited<ReturnType<typeof publishDemoRepo>>;
  beforeAll(async () => {
    demo = await publishDemoRepo('preflight', ['v1', 'v2']);
    fleet = Fleet.onServices('preflight');
    await fleet.startServing(HOSTS, 'v1', { repo: demo.repo, readyTimeout: 4_000, drainTimeout: 5_000 });
  }, 180_000);
  afterAll(async () => {
    await fleet?.cleanup();
    await demo?.remove();
  }, 120_000);

  it('a tag the registry does not have fails the rollout before any host changes, naming every host; traffic never notices', async () => {
    const loads = fleet.agents.map((_, i) => startLoad({ url: fleet.url(i), connections: 2, rate: 50 }));
    await waitFor(() => loads.every((l) => l.snapshot().ok > 10), { what: 'load to flow' });
    const watch = await watchFleet(fleet);
    const started = Date.now();
    const res = await runGantryAsync(['deploy', fleet.project, 'web', '--tag', 'v404', '--json', ...fleet.cliArgs()]);
    const elapsedMs = Date.now() - started;
    await watch.stop();
    const reports = await Promise.all(loads.map((l) => l.stop()));
    const totals = loadTotals(reports);
    const out = lastJson(res.stdout);
    console.log(`preflight of a missing tag: ${JSON.stringify({ exit: res.status, elapsedMs, message: out.message, sent: totals.sent, failed: totals.failed, states: [...new Set(watch.seen.states)] })}`);

    expect(res.status).toBe(1);
    expect(out).toMatchObject({ ok: false, state: 'failed' });
    expect(out.message).toMatch(/^preflight failed, no host was moved: /);
    for (const host of ['h1', 'h2', 'h3']) expect(out.message).toMatch(new RegExp(`${host}: pre-pull of ${demo.repo.replace(/[.]/g, '\\.')}:v404 failed: .*not found.*manifest unknown`));
    expect(out.hosts.map((h: { id: string; result: string; prepull?: string }) => [h.id, h.result, h.prepull])).toEqual([
      ['h1', 'failed', 'failed'],
      ['h2', 'failed', 'failed'],
      ['h3', 'failed', 'failed'],
    ]);
    expect(watch.seen.states).toContain('preflight');
    expect(watch.seen.states).not.toContain('running');
    // No host was told anything but to pull: no host key written, every host still on v1.
    expect(watch.seen.hostDesiredPuts).toEqual([]);
    for (let i = 0; i < HOSTS; i++) {
      expect(await fleet.status(i)).toMatchObject({ phase: 'running', version: 'v1' });
      expect(await fleet.etcd.get(keys.prepull(fleet.project, `h${i + 1}`, 'web')).string()).toBeNull();
    }
    // The answer is gone from the statuses with the request.
    await waitFor(async () => (await Promise.all(fleet.agents.map((_, i) => fleet.status(i)))).every((s) => s?.prepull === undefined), { what: 'the prepull answers to leave the statuses' });
    expect({ failed: totals.failed, samples: totals.samples }).toEqual({ failed: 0, samples: [] });
    expect(totals.sent).toBeGreaterThan(100);
  }, 180_000);

  it('a good tag is pulled by every host in the preflight; then each update finds the image present and pulls nothing', async () => {
    expect(await demo.present('v2')).toBe(false);
    const logFrom = fleet.agents.map((a) => a.logs.length);
    const loads = fleet.agents.map((_, i) => startLoad({ url: fleet.url(i), connections: 2, rate: 50 }));
    await waitFor(() => loads.every((l) => l.snapshot().ok > 10), { what: 'load to flow' });
    const watch = await watchFleet(fleet);
    const res = await runGantryAsync(['deploy', fleet.project, 'web', '--tag', 'v2', '--json', ...fleet.cliArgs()]);
    await watch.stop();
    await fleet.converged('v2');
    const reports = await Promise.all(loads.map((l) => l.stop()));
    const totals = loadTotals(reports);
    const out = lastJson(res.stdout);

    // Each host's update, from its log: the image-ready event of its update to v2 says whether it pulled.
    const updates = fleet.agents.map((a, i) =>
      a.logs
        .slice(logFrom[i])
        .map((line) => JSON.parse(line) as { message?: string; event?: { type: string; image: string; pulled: boolean } })
        .filter((l) => l.message === 'image-ready' && l.event?.image === `${demo.repo}:v2`)
        .map((l) => l.event!.pulled),
    );
    const answers = watch.seen.prepull.map((p) => `${p.host}:${p.prepull.state}${p.prepull.progress ? ` ${p.prepull.progress.layersDone}/${p.prepull.progress.layersTotal} layers` : ''}`);
    console.log(`preflight of v2: ${JSON.stringify({ exit: res.status, message: out.message, answers, updatePulled: updates, sent: totals.sent, failed: totals.failed })}`);

    expect(res.status).toBe(0);
    expect(out).toMatchObject({ ok: true, state: 'succeeded' });
    expect(out.hosts.map((h: { prepull?: string }) => h.prepull)).toEqual(['pulled', 'pulled', 'pulled']);
    expect(watch.seen.states[0]).toBe('preflight');
    // Every host answered for this rollout, with the image id once pulled — before any host key was written.
    for (const host of ['h1', 'h2', 'h3']) {
      const pulled = watch.seen.prepull.find((p) => p.host === host && p.prepull.state === 'pulled');
      expect(pulled?.prepull).toMatchObject({ rollout: out.id, version: 'v2', image: `${demo.repo}:v2`, imageId: expect.stringMatching(/^sha256:/) });
    }
    // In etcd's order (one watch): every host's pulled answer, then the first host key.
    const firstMove = watch.seen.order.findIndex((e) => e.startsWith('desired '));
    expect(watch.seen.order.slice(0, firstMove).sort()).toEqual(['pulled h1', 'pulled h2', 'pulled h3']);
    // Each update found the image there: no pull once a host moved (every convergence to v2 after it too).
    expect(updates.map((pulled) => pulled.length > 0 && pulled.every((p) => !p))).toEqual([true, true, true]);
    expect({ failed: totals.failed, samples: totals.samples }).toEqual({ failed: 0, samples: [] });
  }, 180_000);
});

describe('image retention: a host keeps the images of its last three versions', () => {
  let fleet: Fleet;
  let demo: Awaited<ReturnType<typeof publishDemoRepo>>;
  beforeAll(async () => {
    demo = await publishDemoRepo('retention', ['v1', 'v2', 'v3', 'v4']);
    fleet = Fleet.onServices('retention');
    await fleet.start(1, { repo: demo.repo, readyTimeout: 4_000, drainTimeout: 2_000 }, ['--keep-images', '3']);
    await fleet.setFleetVersion('v1');
    await fleet.converged('v1');
  }, 180_000);
  afterAll(async () => {
    await fleet?.cleanup();
    await demo?.remove();
  }, 120_000);

  it("after v1→v2→v3→v4, v1's image is gone and v2–v4 remain; going back to v2 pulls nothing", async () => {
    for (const v of ['v2', 'v3', 'v4']) {
      await fleet.setFleetVersion(v);
      await fleet.converged(v);
    }
    await waitFor(async () => !(await demo.present('v1')), { timeoutMs: 30_000, what: `${demo.repo}:v1 to be removed\n${fleet.agents[0].tail()}` });
    const present = Object.fromEntries(await Promise.all(['v1', 'v2', 'v3', 'v4'].map(async (v) => [v, await demo.present(v)] as const)));
    const pruned = fleet.agents[0].logs.map((l) => JSON.parse(l) as { message?: string; removed?: string[] }).filter((l) => l.message?.startsWith('removed images of versions'));
    console.log(`retention after v1→v4: ${JSON.stringify({ present, pruned: pruned.map((p) => p.removed) })}`);
    expect(present).toEqual({ v1: false, v2: true, v3: true, v4: true });

    // Back to v2 (without preflight: the update itself would pull if it had to).
    const logFrom = fleet.agents[0].logs.length;
    const res = await runGantryAsync(['deploy', fleet.project, 'web', '--tag', 'v2', '--no-preflight', '--json', ...fleet.cliArgs()]);
    expect(res.status).toBe(0);
    await fleet.converged('v2');
    const pulls = fleet.agents[0].logs
      .slice(logFrom)
      .map((l) => JSON.parse(l) as { message?: string; event?: { image: string; pulled: boolean } })
      .filter((l) => l.message === 'image-ready' && l.event?.image === `${demo.repo}:v2`)
      .map((l) => l.event!.pulled);
    console.log(`undo to v2: ${JSON.stringify({ pulled: pulls })}`);
    expect(pulls.length).toBeGreaterThan(0);
    expect(pulls.every((p) => !p)).toBe(true);
    // v2 ran last now: v4, v3 kept beside it; v1 stays gone (nothing pulls it back).
    expect(await demo.present('v4')).toBe(true);
    expect(await demo.present('v1')).toBe(false);
  }, 240_000);
});
