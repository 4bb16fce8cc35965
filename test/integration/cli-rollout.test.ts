/**
 * The rolling-update verbs of the gantry CLI (deploy, rollout status|watch|pause|resume|abort|
 * rollback|history) as an operator runs them: the built binary against the real etcd, with a
 * project of its own whose keys are removed after. The coordinator is simulated by writing the
 * state record, then moving the rollout to history and deleting request and state in one
 * transaction, as the coordinator will. Build with `npx tsc -b` first.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Etcd3 } from 'etcd3';
import { KeyLayout, rolloutControlSchema, rolloutRequestSchema, type RolloutRequest, type RolloutState } from '@gantry/spec';
import { serviceEnv, waitFor } from '@gantry/testkit';
import { cliEnv, gantryBin, lastJson, runGantry } from '../support/cli';

const env = serviceEnv();
const endpoint = env.etcdEndpoints[0];
const project = `it-${randomBytes(4).toString('hex')}`;
const keys = new KeyLayout();
const etcd = new Etcd3({ hosts: env.etcdEndpoints });

const run = (args: string[]) => runGantry(args, 30_000);
/** gantry VERB… PROJECT COMPONENT with this test's project and etcd. */
const gantry = (verb: string[], component: string, ...options: string[]) => run([...verb, project, component, '--etcd', endpoint, ...options]);
const get = (key: string) => etcd.get(key).string();
const iso = (offsetMs = 0) => new Date(Date.now() + offsetMs).toISOString();

interface Running {
  lines: Array<Record<string, unknown>>;
  exit: Promise<number | null>;
  kill: (signal: NodeJS.Signals) => void;
}
function start(verb: string[], component: string, ...options: string[]): Running {
  const child = spawn(process.execPath, [gantryBin, ...verb, project, component, '--etcd', endpoint, '--json', ...options], { env: cliEnv });
  const lines: Array<Record<string, unknown>> = [];
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(JSON.parse(line)));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  void exit.then((code) => code !== 0 && stderr && process.stdout.write(`${verb.join(' ')} stderr: ${stderr}\n`));
  return { lines, exit, kill: (signal) => child.kill(signal) };
}
const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms).unref())]);

const config = { components: [{ name: 'web', repo: `${env.registry}/gantry/demo-app`, tag: 'v1' }] };

const stateOf = (id: string, state: RolloutState['state'], finished = false): RolloutState => ({
  rollout: id,
  state,
  hosts: [
    { id: 'h1', batch: 0, fromVersion: 'v1', result: state === 'failed' ? 'failed' : 'done', startedAt: iso(-5000), ...(state === 'failed' ? { error: 'not ready in time' } : {}) },
    { id: 'h2', batch: 1, fromVersion: 'v1', result: finished && state === 'succeeded' ? 'done' : 'updating', startedAt: iso(-1000) },
  ],
  batches: 2,
  currentBatch: finished ? 2 : 1,
  startedAt: iso(-6000),
  ...(finished ? { finishedAt: iso() } : {}),
  updatedAt: iso(),
});

/** What the coordinator does at the end: history entry in, request and state (and control) out, together. */
async function finish(request: RolloutRequest, state: RolloutState['state']): Promise<void> {
  const c = request.component;
  await etcd
    .if(keys.rolloutRequest(project, c), 'Create', '>', 0)
    .then(
      etcd.put(keys.rolloutHistory(project, c, request.id)).value(JSON.stringify({ request, state: stateOf(request.id, state, true) })),
      etcd.delete().key(keys.rolloutRequest(project, c)),
      etcd.delete().key(keys.rolloutState(project, c)),
      etcd.delete().key(keys.rolloutControl(project, c)),
    )
    .commit();
}
const storedRequest = async (component = 'web') => rolloutRequestSchema.parse(JSON.parse((await get(keys.rolloutRequest(project, component)))!));

beforeAll(async () => {
  await etcd.put(keys.config(project)).value(JSON.stringify(config));
  await etcd.put(keys.status(project, 'h2', 'web')).value(JSON.stringify({ phase: 'pulling', version: 'v1', targetVersion: 'v2', pull: { layersDone: 1, layersTotal: 4, bytesDone: 10e6, bytesTotal: 40e6 }, updatedAt: iso() }));
});

afterAll(async () => {
  await etcd.delete().prefix(keys.project(project));
  etcd.close();
});

describe('gantry deploy and rollout', () => {
  let first: RolloutRequest;
  let failedId: string;

  it('refuses bad flags with exit 2 naming the flag, before writing anything', async () => {
    for (const [flag, value] of [
      ['--tag', 'bad tag'],
      ['--batch', '0'],
      ['--batch', '120%'],
      ['--hosts', 'zone=a,h1'],
      ['--canary', '-1'],
      ['--progress-deadline', '0'],
    ]) {
      const res = gantry(['deploy'], 'web', '--tag', flag === '--tag' ? value : 'v2', ...(flag === '--tag' ? [] : [flag, value]), '--no-wait');
      expect({ flag, status: res.status }).toEqual({ flag, status: 2 });
      expect(res.stderr).toContain(flag);
    }
    const unknown = gantry(['deploy'], 'nope', '--tag', 'v2', '--no-wait');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('component "nope" is not in the stored config');
    expect(await get(keys.rolloutRequest(project, 'web'))).toBeNull();
  });

  it('refuses control and watch when no rollout is active, exit 2', () => {
    for (const verb of ['pause', 'resume', 'abort', 'rollback', 'watch']) {
      const res = gantry(['rollout', verb], 'web');
      expect({ verb, status: res.status }).toEqual({ verb, status: 2 });
      expect(res.stderr).toContain('no active rollout of web');
    }
    const status = gantry(['rollout', 'status'], 'web', '--json');
    expect(status.status).toBe(0);
    expect(lastJson(status.stdout)).toMatchObject({ active: false, last: null });
  });

  it('deploy --no-wait writes a valid request, clearing a stale control and state, and prints its id', async () => {
    await etcd.put(keys.rolloutControl(project, 'web')).value(JSON.stringify({ rollout: 'r-old', action: 'abort', by: 'x', at: iso() }));
    await etcd.put(keys.rolloutState(project, 'web')).value(JSON.stringify(stateOf('r-old', 'aborted', true)));
    const res = gantry(['deploy'], 'web', '--tag', 'v2', '--batch', '50%', '--canary', '1', '--hosts', 'all', '--no-wait', '--json');
    expect(res.status).toBe(0);
    const out = lastJson(res.stdout);
    expect(out.id).toMatch(/^r-\d{14}-[0-9a-f]{4}$/);
    first = await storedRequest();
    expect(first).toMatchObject({ id: out.id, component: 'web', toVersion: 'v2', policy: { batch: { percent: 50 }, canary: 1, hosts: { all: true } } });
    expect(await get(keys.rolloutControl(project, 'web'))).toBeNull();
    expect(await get(keys.rolloutState(project, 'web'))).toBeNull();
  });

  it('a second deploy is refused, naming the active rollout, exit 2', async () => {
    const res = gantry(['deploy'], 'web', '--tag', 'v3', '--no-wait');
    expect(res.status).toBe(2);
    expect(res.stderr).toContain(first.id);
    expect(res.stderr).toContain('pending');
    expect((await storedRequest()).id).toBe(first.id);
  });

  it('rollout pause writes a control for the active rollout; with no coordinator running it says so (exit 3); status shows it', async () => {
    const res = gantry(['rollout', 'pause'], 'web');
    expect(res.status).toBe(3);
    expect(res.stdout).toContain(`pause of rollout ${first.id} recorded`);
    expect(res.stdout).toContain('no coordinator is running');
    expect(res.stdout).toContain('it applies when one runs');
    expect(res.stdout).not.toContain('requested');
    const control = rolloutControlSchema.parse(JSON.parse((await get(keys.rolloutControl(project, 'web')))!));
    expect(control).toMatchObject({ rollout: first.id, action: 'pause' });
    const status = gantry(['rollout', 'status'], 'web', '--json');
    expect(status.status).toBe(0);
    expect(lastJson(status.stdout)).toMatchObject({ active: true, id: first.id, state: 'pending', control: { rollout: first.id, action: 'pause' } });
    const human = gantry(['rollout', 'status'], 'web');
    expect(human.stdout).toContain(`rollout ${first.id}`);
  });

  it('rollout watch follows the changes and ends with exit 0 when the rollout succeeded', async () => {
    const watch = start(['rollout', 'watch'], 'web');
    await waitFor(() => watch.lines.find((l) => l.event === 'change' && l.state === 'pending'), { what: 'the first view', timeoutMs: 15_000 });
    await etcd.put(keys.rolloutState(project, 'web')).value(JSON.stringify({ ...stateOf(first.id, 'paused'), pausedBy: 'operator' }));
    const paused = await waitFor(() => watch.lines.find((l) => l.event === 'change' && l.state === 'paused'), { what: 'the paused view', timeoutMs: 15_000 });
    expect(paused).toMatchObject({ id: first.id, batch: 2, batches: 2, hostsTotal: 2, pausedBy: 'operator' });
    const h2 = (paused.rows as Array<Record<string, unknown>>).find((r) => r.host === 'h2');
    expect(h2).toMatchObject({ phase: 'pulling', version: 'v1 → v2', pull: { layersDone: 1, layersTotal: 4 } });
    await etcd.put(keys.rolloutState(project, 'web')).value(JSON.stringify(stateOf(first.id, 'running')));
    await waitFor(() => watch.lines.find((l) => l.event === 'change' && l.state === 'running'), { what: 'the running view', timeoutMs: 15_000 });
    await finish(first, 'succeeded');
    expect(await within(watch.exit, 15_000, 'watch to exit')).toBe(0);
    expect(watch.lines.at(-1)).toMatchObject({ event: 'result', id: first.id, state: 'succeeded', ok: true });
  });

  it('deploy (waiting) follows its rollout and ends with exit 1 when it failed', async () => {
    const deploy = start(['deploy'], 'web', '--tag', 'v3');
    const requested = await waitFor(() => deploy.lines.find((l) => l.event === 'result' && l.ok === true), { what: 'the request', timeoutMs: 15_000 });
    failedId = String(requested.id);
    await waitFor(() => deploy.lines.find((l) => l.event === 'change' && l.id === failedId), { what: 'the first view', timeoutMs: 15_000 });
    const request = await storedRequest();
    expect(request.id).toBe(failedId);
    await etcd.put(keys.rolloutState(project, 'web')).value(JSON.stringify(stateOf(failedId, 'failed')));
    await waitFor(() => deploy.lines.find((l) => l.event === 'change' && l.state === 'failed'), { what: 'the failed view', timeoutMs: 15_000 });
    await finish(request, 'failed');
    expect(await within(deploy.exit, 15_000, 'deploy to exit')).toBe(1);
    expect(deploy.lines.at(-1)).toMatchObject({ event: 'result', id: failedId, state: 'failed', ok: false });
  });

  it('rollout watch detaches on SIGINT with exit 130; the rollout goes on', async () => {
    const res = gantry(['deploy'], 'web', '--tag', 'v4', '--no-wait', '--json');
    expect(res.status).toBe(0);
    const id = lastJson(res.stdout).id;
    const watch = start(['rollout', 'watch'], 'web');
    await waitFor(() => watch.lines.find((l) => l.event === 'change' && l.id === id), { what: 'the first view', timeoutMs: 15_000 });
    watch.kill('SIGINT');
    expect(await within(watch.exit, 15_000, 'watch to exit')).toBe(130);
    expect((await storedRequest()).id).toBe(id);
    await finish(await storedRequest(), 'aborted');
  });

  it('rollout history lists the finished rollouts, newest first', async () => {
    const res = gantry(['rollout', 'history'], 'web', '--json');
    expect(res.status).toBe(0);
    const { rollouts } = lastJson(res.stdout);
    expect(rollouts.map((r: { id: string; outcome: string }) => [r.id, r.outcome]).slice(1)).toEqual([
      [failedId, 'failed'],
      [first.id, 'succeeded'],
    ]);
    expect(rollouts[0].outcome).toBe('aborted');
    const table = gantry(['rollout', 'history'], 'web');
    expect(table.stdout).toMatch(/ID\s+VERSION\s+BY\s+STARTED\s+FINISHED\s+OUTCOME\s+HOSTS/);
    expect(table.stdout).toContain(first.id);
    const status = gantry(['rollout', 'status'], 'web', '--json');
    expect(lastJson(status.stdout)).toMatchObject({ active: false, last: { state: { state: 'aborted' } } });
  });

  describe('rollout abort', () => {
    let request: RolloutRequest;
    const coordinatorKey = keys.coordinator(project);
    beforeAll(async () => {
      const res = gantry(['deploy'], 'web', '--tag', 'v5', '--no-wait', '--json');
      expect(res.status).toBe(0);
      request = await storedRequest();
      await etcd.put(keys.rolloutState(project, 'web')).value(JSON.stringify(stateOf(request.id, 'running')));
    });
    afterAll(() => etcd.delete().key(coordinatorKey));

    it('refuses a control the coordinator would ignore, exit 2, writing nothing', async () => {
      const res = gantry(['rollout', 'resume'], 'web');
      expect(res.status).toBe(2);
      expect(res.stderr).toContain(`rollout ${request.id} is running, not paused: there is nothing to resume; nothing was written`);
      expect(await get(keys.rolloutControl(project, 'web'))).toBeNull();
    });

    it('with no coordinator running, says the abort is recorded and applies when one runs (exit 3)', async () => {
      const res = gantry(['rollout', 'abort'], 'web', '--json');
      expect(res.status).toBe(3);
      expect(lastJson(res.stdout)).toMatchObject({ ok: false, applied: false, coordinator: null, rollout: request.id, control: { action: 'abort' } });
      // A pending abort is not overwritten by another instruction.
      const pause = gantry(['rollout', 'pause'], 'web');
      expect(pause.status).toBe(2);
      expect(pause.stderr).toContain('an abort of rollout');
      expect(rolloutControlSchema.parse(JSON.parse((await get(keys.rolloutControl(project, 'web')))!)).action).toBe('abort');
    });

    /** The coordinator (simulated): once a new abort control is stored, the rollout goes to history as aborted by its author. */
    async function coordinatorAborts(before: string | null, extraHost = true): Promise<void> {
      const control = await waitFor(async () => {
        const text = await get(keys.rolloutControl(project, 'web'));
        return text && text !== before ? rolloutControlSchema.parse(JSON.parse(text)) : undefined;
      }, { what: 'the new abort control', timeoutMs: 15_000 });
      const stored = await storedRequest();
      const state = { ...stateOf(stored.id, 'aborted', true), message: `aborted by ${control.by}` };
      if (extraHost) state.hosts.push({ id: 'h3', batch: 2, fromVersion: 'v1', result: 'pending' });
      await etcd
        .if(keys.rolloutRequest(project, 'web'), 'Create', '>', 0)
        .then(
          etcd.put(keys.rolloutHistory(project, 'web', stored.id)).value(JSON.stringify({ request: stored, state })),
          etcd.delete().key(keys.rolloutRequest(project, 'web')),
          etcd.delete().key(keys.rolloutState(project, 'web')),
          etcd.delete().key(keys.rolloutControl(project, 'web')),
        )
        .commit();
    }

    it('waits for the coordinator to record it, then says who aborted it and where each host was left', async () => {
      await etcd.put(coordinatorKey).value(JSON.stringify({ hostId: 'h9', since: iso(), leaseId: '1' }));
      const before = await get(keys.rolloutControl(project, 'web'));
      const abort = start(['rollout', 'abort'], 'web');
      await coordinatorAborts(before);
      expect(await within(abort.exit, 15_000, 'abort to exit')).toBe(0);
      expect(abort.lines.at(-1)).toMatchObject({ event: 'result', ok: true, applied: true, outcome: 'aborted', rollout: request.id, hosts: { 'on v5': ['h1'], 'updating to v5': ['h2'], untouched: ['h3'] } });
      const history = gantry(['rollout', 'history'], 'web', '--json');
      expect(lastJson(history.stdout).rollouts[0]).toMatchObject({ id: request.id, outcome: 'aborted' });
    });

    it('in plain words: "rollout X aborted by …: host h1 on v6; …"', async () => {
      expect(gantry(['deploy'], 'web', '--tag', 'v6', '--no-wait').status).toBe(0);
      const id = (await storedRequest()).id;
      await etcd.put(keys.rolloutState(project, 'web')).value(JSON.stringify(stateOf(id, 'running')));
      const child = spawn(process.execPath, [gantryBin, 'rollout', 'abort', project, 'web', '--etcd', endpoint], { env: cliEnv });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      await coordinatorAborts(null);
      expect(await within(exit, 15_000, 'abort to exit')).toBe(0);
      expect(out.trim()).toMatch(new RegExp(`^rollout ${id} aborted by \\S+: host h1 on v6; host h2 updating to v6; host h3 untouched$`));
    });

    it('a coordinator that does not record it in time: recorded, exit 3; once over, a control is refused, exit 2', async () => {
      expect(gantry(['deploy'], 'web', '--tag', 'v7', '--no-wait').status).toBe(0);
      const slow = gantry(['rollout', 'abort'], 'web', '--wait', '1');
      expect(slow.status).toBe(3);
      expect(slow.stdout).toMatch(/abort of rollout \S+ recorded .*, but the coordinator \(h9\) has not recorded the outcome within 1 s/);
      await coordinatorAborts(null, false);
      const late = gantry(['rollout', 'abort'], 'web');
      expect(late.status).toBe(2);
      expect(late.stderr).toContain('no active rollout of web');
    });
  });
});
