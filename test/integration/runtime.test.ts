import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import { componentSchema, type ComponentInput } from '@gantry/spec';
import { demoImage, ensureDemoImages, serviceEnv, waitFor } from '@gantry/testkit';
import { DockerContainerRuntime, type ManagedContainer, type PullProgress } from '../../packages/agent/src/runtime';

// Everything this run creates carries RUN_LABEL=runId, so afterAll removes exactly that.
const runId = randomBytes(4).toString('hex');
const RUN_LABEL = 'io.gantry.test-run';
const project = `rt-${runId}`;
const h1 = `h1-${runId}`;
const h2 = `h2-${runId}`;
const env = serviceEnv();
const runtime = new DockerContainerRuntime({ dockerHost: env.dockerHost });
const docker: Docker = runtime.docker;
// A repository of our own in the registry for the pull tests: untagging and re-pulling the
// shared demo tags could pull the rug from under tests running beside this one.
const pullRepo = `${env.registry}/gantry-runtime-test/${runId}`;
const timings: Record<string, number> = {};
let pullImageId: string | undefined;

const demo = (input: Partial<ComponentInput> = {}) =>
  componentSchema.parse({
    name: 'web',
    repo: 'gantry/demo-app',
    tag: 'v1',
    ports: [{ external: 18080, container: 8080, kind: 'http' }],
    readyChecks: [{ kind: 'http', port: 8080, path: '/ready' }],
    stopTimeout: 2_000,
    labels: { [RUN_LABEL]: runId },
    ...input,
  });

async function httpGet(host: string, port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://${host}:${port}${path}`, { signal: AbortSignal.timeout(2000) });
  return { status: res.status, body: await res.text() };
}

/** Follows a push/pull stream to its end; errors inside the stream fail it. */
function follow(stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve, reject) =>
    docker.modem.followProgress(stream, (err: Error | null, output: Array<{ error?: string }>) => {
      const failed = err?.message ?? output.find((e) => e.error)?.error;
      if (failed) reject(new Error(failed));
      else resolve();
    }),
  );
}

async function registryDigest(repo: string, tag: string): Promise<string | undefined> {
  const res = await fetch(`http://${env.registry}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' },
  });
  return res.ok ? (res.headers.get('docker-content-digest') ?? undefined) : undefined;
}

const removeImage = (ref: string) => docker.getImage(ref).remove().catch(() => undefined);

beforeAll(async () => {
  await ensureDemoImages();
  // An image of this run's own for the pull tests: demo v1 plus one small layer unique to the run,
  // committed and pushed to its own repository. Pulling it back after removing it downloads that
  // layer for real while the 100 MB node layers stay shared with gantry/demo-app:v1. (Untagging
  // and re-pulling the shared demo tags instead could pull the rug from under parallel tests.)
  const writer = await docker.createContainer({
    Image: demoImage('v1'),
    Cmd: ['/usr/bin/node', '-e', "require('fs').writeFileSync('/run-id', require('crypto').randomBytes(32 * 1024))"],
    Labels: { [RUN_LABEL]: runId },
  });
  await writer.start();
  expect(await writer.wait()).toMatchObject({ StatusCode: 0 });
  await writer.commit({ repo: pullRepo, tag: 'v1', changes: ['CMD ["/usr/bin/node", "/app/server.js"]'] });
  await writer.remove();
  pullImageId = (await docker.getImage(`${pullRepo}:v1`).inspect()).Id;
  // The daemon wants an X-Registry-Auth header on a push even for a registry without auth.
  await follow((await docker.getImage(`${pullRepo}:v1`).push({ authconfig: { serveraddress: env.registry } })) as NodeJS.ReadableStream);
});

afterAll(async () => {
  const leftovers = await docker.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${runId}`] } });
  const ours = await docker.listContainers({ all: true, filters: { label: [`io.gantry.project=${project}`] } });
  const ids = new Set([...leftovers, ...ours].map((c) => c.Id));
  await Promise.all([...ids].map((id) => docker.getContainer(id).remove({ force: true, v: true }).catch(() => undefined)));
  // The run's image by id (it holds the tag and/or the digest reference); its own layer goes, the
  // node layers stay with gantry/demo-app:v1.
  if (pullImageId) await docker.getImage(pullImageId).remove({ force: true }).catch(() => undefined);
  await removeImage(`${pullRepo}:v1`);
  // Drop the manifest from the registry too (delete is enabled there); the blobs are shared.
  const digest = await registryDigest(`gantry-runtime-test/${runId}`, 'v1').catch(() => undefined);
  if (digest) await fetch(`http://${env.registry}/v2/gantry-runtime-test/${runId}/manifests/${digest}`, { method: 'DELETE' }).catch(() => undefined);
  console.log(`runtime timings (ms): ${JSON.stringify(timings)}`);
});

describe('DockerContainerRuntime', () => {
  let web: ManagedContainer;

  it('creates and starts a demo container whose published 127.0.0.1 port answers HTTP', async () => {
    const t0 = Date.now();
    const created = await runtime.create(demo(), { project, hostId: h1 });
    timings.create = Date.now() - t0;
    expect(created).toMatchObject({ project, hostId: h1, component: 'web', version: 'v1', image: 'gantry/demo-app:v1', state: 'created', health: 'none', hostPorts: {} });
    expect(created.name).toMatch(new RegExp(`^gantry\\.${h1}\\.${project}\\.web\\.v1\\.[a-f0-9]{6}$`));
    expect(created.imageId).toMatch(/^sha256:/);

    const t1 = Date.now();
    web = await runtime.start(created.id);
    timings.start = Date.now() - t1;
    timings.createPlusStart = Date.now() - t0;
    expect(web.state).toBe('running');
    expect(web.startedAt).toBeInstanceOf(Date);
    const published = web.hostPorts[8080];
    expect(published.host).toBe('127.0.0.1');
    expect(published.port).toBeGreaterThan(0);

    const t2 = Date.now();
    const res = await waitFor(async () => {
      const r = await httpGet(published.host, published.port, '/');
      return r.status === 200 ? r : undefined;
    }, { timeoutMs: 10_000, intervalMs: 20, what: 'the demo app to answer' });
    timings.firstHttpAfterStart = Date.now() - t2;
    expect(JSON.parse(res.body)).toMatchObject({ version: 'v1' });
    // The image's HEALTHCHECK (interval 1 s) is reported as health.
    await waitFor(async () => (await runtime.inspect(web.id))?.health === 'healthy', { timeoutMs: 15_000, what: 'docker health "healthy"' });
  });

  it('lists only the containers of one host (and component), in every state', async () => {
    const otherHost = await runtime.create(demo(), { project, hostId: h2 });
    const api = await runtime.create(demo({ name: 'api' }), { project, hostId: h1 });
    const h1All = await runtime.list({ project, hostId: h1 });
    expect(h1All.map((c) => c.id).sort()).toEqual([web.id, api.id].sort());
    expect(h1All.every((c) => c.hostId === h1)).toBe(true);
    expect((await runtime.list({ project, hostId: h1, component: 'web' })).map((c) => c.id)).toEqual([web.id]);
    const h2All = await runtime.list({ project, hostId: h2 });
    expect(h2All.map((c) => [c.id, c.state])).toEqual([[otherHost.id, 'created']]);
    expect(await runtime.list({ project: `${project}-none`, hostId: h1 })).toEqual([]);
    await runtime.remove(otherHost.id);
    await runtime.remove(api.id);
  });

  it('execs a command: output (stdout and stderr) and exit code; honours the timeout', async () => {
    const result = await runtime.exec(web.id, ['/usr/bin/node', '-e', 'console.log("to stdout"); console.error("to stderr"); process.exit(7)'], 10_000);
    expect(result.exitCode).toBe(7);
    expect(result.output).toContain('to stdout\n');
    expect(result.output).toContain('to stderr\n');
    expect(await runtime.exec(web.id, ['/usr/bin/node', '-e', 'process.stdout.write("ok")'], 10_000)).toEqual({ exitCode: 0, output: 'ok' });

    const t0 = Date.now();
    await expect(runtime.exec(web.id, ['/usr/bin/node', '-e', 'setTimeout(() => {}, 30000)'], 700)).rejects.toThrow(/timed out after 700 ms \(the process may still be running/);
    expect(Date.now() - t0).toBeLessThan(3_000);

    const missing = await runtime.exec(web.id, ['/no/such/binary'], 10_000);
    expect(missing.exitCode).not.toBe(0);
    expect(missing.output).toMatch(/no such file or directory|not found/i);
  });

  it('reads logs, demuxed, with a tail', async () => {
    const logs = await runtime.logs(web.id);
    expect(logs).toMatch(/demo-app v1 pid=\d+: listening on 0\.0\.0\.0:8080/);
    expect(logs).not.toMatch(/[\x00-\x08]/); // no frame headers left in
    const tail = await runtime.logs(web.id, { tail: 1 });
    expect(tail.trim().split('\n')).toHaveLength(1);
  });

  it('sends a signal: SIGTERM drains the demo app and it exits 0', async () => {
    const c = await runtime.start((await runtime.create(demo(), { project, hostId: h1 })).id);
    await waitFor(async () => (await httpGet(c.hostPorts[8080].host, c.hostPorts[8080].port, '/healthz')).status === 200, { timeoutMs: 10_000, intervalMs: 20, what: 'app up' });
    await runtime.signal(c.id, 'SIGTERM');
    const exited = await waitFor(async () => {
      const info = await runtime.inspect(c.id);
      return info?.state === 'exited' ? info : undefined;
    }, { timeoutMs: 10_000, what: 'exit after SIGTERM' });
    expect(exited.exitCode).toBe(0);
    expect(await runtime.logs(c.id)).toContain('SIGTERM received: draining');
    await expect(runtime.signal(c.id, 'SIGTERM')).rejects.toThrow(/cannot send SIGTERM to container .*is not running/);
    await runtime.remove(c.id);
  });

  it('stops and removes idempotently; inspect of a removed container is undefined', async () => {
    const t0 = Date.now();
    await runtime.stop(web.id, 5_000);
    timings.stop = Date.now() - t0;
    expect((await runtime.inspect(web.id))?.state).toBe('exited');
    await runtime.stop(web.id, 5_000); // already stopped
    await runtime.remove(web.id);
    await runtime.remove(web.id); // already gone
    await runtime.stop(web.id, 5_000); // gone
    expect(await runtime.inspect(web.id)).toBeUndefined();
    expect(await runtime.list({ project, hostId: h1, component: 'web' })).toEqual([]);
  });

  it('fails clearly, with exit code and logs, when the container exits right after start', async () => {
    const failing = demo({
      name: 'crasher',
      command: ['/usr/bin/node', '-e', 'console.log("loading config"); console.error("boom: DATABASE_URL is not set"); process.exit(3)'],
    });
    // A watch window well above node's start-up time, so a loaded machine cannot make this flaky.
    const watchful = new DockerContainerRuntime({ dockerHost: env.dockerHost, startupWatchMs: 3_000 });
    const c = await watchful.create(failing, { project, hostId: h1 });
    const err = await watchful.start(c.id).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(new RegExp(`^container ${c.name} \\(component crasher\\) exited right after start \\(exit code 3`));
    expect(err?.message).toContain('loading config');
    expect(err?.message).toContain('boom: DATABASE_URL is not set');
    await runtime.remove(c.id);

    // Restart policy "no": the container simply stays exited.
    const once = await runtime.create({ ...failing, restartPolicy: 'no' }, { project, hostId: h1 });
    await expect(watchful.start(once.id)).rejects.toThrow(/exited right after start \(exit code 3\)[^]*boom/);
    await runtime.remove(once.id);
  });

  it('fails clearly when the container cannot start at all', async () => {
    const c = await runtime.create(demo({ name: 'nocmd', command: ['/no/such/binary'] }), { project, hostId: h1 });
    await expect(runtime.start(c.id)).rejects.toThrow(new RegExp(`^cannot start container ${c.name}: .*no such file or directory`));
    await runtime.remove(c.id);
  });

  it('fails clearly when creating from an image that is not present', async () => {
    await expect(runtime.create(demo({ repo: `${pullRepo}-absent` }), { project, hostId: h1 })).rejects.toThrow(
      `cannot create container for component web: image ${pullRepo}-absent:v1 is not present locally (ensureImage first)`,
    );
  });
});

describe('ensureImage', () => {
  it('does not pull an image that is present, unless asked to', async () => {
    const info = await runtime.ensureImage(demoImage('v1'));
    expect(info.pulled).toBe(false);
    expect(info.id).toMatch(/^sha256:/);
  });

  it('pulls from the registry after the tag was removed, with aggregated progress', async () => {
    const ref = `${pullRepo}:v1`;
    const local = await docker.getImage(ref).inspect();
    await docker.getImage(ref).remove(); // removes the run's layer; the base layers stay (gantry/demo-app:v1)
    await expect(docker.getImage(ref).inspect()).rejects.toMatchObject({ statusCode: 404 });

    const events: PullProgress[] = [];
    const t0 = Date.now();
    const info = await runtime.ensureImage(ref, { onProgress: (p) => events.push(p), progressIntervalMs: 0 });
    timings.pullFromLocalRegistry = Date.now() - t0;
    expect(info.pulled).toBe(true);
    expect(info.id).toBe(local.Id);
    expect(info.digest).toBe(await registryDigest(`gantry-runtime-test/${runId}`, 'v1'));
    expect(info.repoDigests).toContain(`${pullRepo}@${info.digest}`);
    expect(events.length).toBeGreaterThan(0);
    const last = events[events.length - 1];
    expect(last.layersTotal).toBeGreaterThan(0);
    expect(last.layersDone).toBe(last.layersTotal);
    expect(last.bytesTotal).toBeGreaterThan(0); // the run's own layer was downloaded
    expect(last.bytesDone).toBe(last.bytesTotal);
    console.log(`pull progress: ${events.length} events, last ${JSON.stringify(last)}`);

    // pull: 'always' pulls even though it is present now.
    expect((await runtime.ensureImage(ref, { pull: 'always' })).pulled).toBe(true);
  });

  it('fails clearly for a tag the registry does not have', async () => {
    const ref = `${env.registry}/gantry/demo-app:nope-${runId}`;
    await expect(runtime.ensureImage(ref)).rejects.toThrow(`image ${ref} not found in registry ${env.registry} (manifest unknown)`);
  });

  it('checks a pinned digest', async () => {
    const ref = `${pullRepo}:v1`;
    const { digest } = await runtime.ensureImage(ref);
    expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    // Pinned by reference: the digest is verified and reported.
    const pinned = await runtime.ensureImage(`${pullRepo}@${digest}`);
    expect(pinned.digest).toBe(digest);

    const wrong = `sha256:${'0'.repeat(64)}`;
    await expect(runtime.ensureImage(ref, { digest: wrong })).rejects.toThrow(new RegExp(`^image ${ref} \\(sha256:[a-f0-9]{64}\\) does not match the pinned digest ${wrong}: its repo digests are .*${pullRepo}@${digest}`));
    // A locally built image has no repo digest at all.
    await expect(runtime.ensureImage(demoImage('v1'), { digest: wrong })).rejects.toThrow(/does not match the pinned digest/);
    // A real pull by digest: with the tag gone the image goes (its run-unique layer with it).
    await docker.getImage(ref).remove();
    await expect(docker.getImage(`${pullRepo}@${digest}`).inspect()).rejects.toMatchObject({ statusCode: 404 });
    const byDigest = await runtime.ensureImage(`${pullRepo}@${digest}`);
    expect(byDigest).toMatchObject({ pulled: true, digest });

    // A pinned digest the registry does not have.
    await expect(runtime.ensureImage(`${pullRepo}@${wrong}`)).rejects.toThrow(`image ${pullRepo}@${wrong} not found in registry ${env.registry}`);
  });
});
