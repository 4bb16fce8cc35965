/**
 * The foundation: each local service that scripts/services.sh starts is really there and really
 * used — dockerd runs a demo container that answers HTTP, etcd takes a put, a get and a watch, and
 * the registry takes a push and serves a pull.
 */
import Docker from 'dockerode';
import { Etcd3 } from 'etcd3';
import { randomBytes } from 'node:crypto';
import { demoImage, dockerSocketPath, ensureDemoImages, httpGet, serviceEnv, waitFor } from '@gantry/testkit';

const env = serviceEnv();
const docker = new Docker({ socketPath: dockerSocketPath(env) });
const runId = randomBytes(4).toString('hex');

async function followToEnd(stream: NodeJS.ReadableStream): Promise<void> {
  // dockerode reports push/pull failures inside the progress output, not as the callback's error.
  const events: Array<{ error?: string }> = await new Promise((resolve, reject) =>
    docker.modem.followProgress(stream, (err: Error | null, out: Array<{ error?: string }>) => (err ? reject(err) : resolve(out))),
  );
  const failed = events.find((e) => e.error);
  if (failed) throw new Error(failed.error);
}

beforeAll(() => ensureDemoImages(), 600_000);

describe('dockerd', () => {
  let container: Docker.Container | undefined;
  afterAll(() => container?.remove({ force: true }));

  it('runs the demo image, which answers HTTP on its published loopback port', async () => {
    container = await docker.createContainer({
      Image: demoImage('v1'),
      Labels: { 'io.gantry.test': runId },
      HostConfig: { PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
      ExposedPorts: { '8080/tcp': {} },
    });
    await container.start();
    const info = await container.inspect();
    const port = Number(info.NetworkSettings.Ports['8080/tcp'][0].HostPort);
    const body = await waitFor(
      async () => {
        // Docker's port proxy accepts before the app listens, then resets: each probe needs its own timeout.
        const res = await httpGet(`http://127.0.0.1:${port}/`, 1000);
        return res.status === 200 ? (JSON.parse(res.body) as { version: string }) : undefined;
      },
      { what: 'the demo container to answer', timeoutMs: 20_000 },
    );
    expect(body.version).toBe('v1');
  });
});

describe('etcd', () => {
  const etcd = new Etcd3({ hosts: env.etcdEndpoints });
  const prefix = `/gantry-test/${runId}/`;
  afterAll(async () => {
    await etcd.delete().prefix(prefix);
    etcd.close();
  });

  it('takes a put, a get and a watch', async () => {
    await etcd.put(`${prefix}a`).value('1');
    expect(await etcd.get(`${prefix}a`).string()).toBe('1');

    const watcher = await etcd.watch().prefix(prefix).create();
    const seen = new Promise<string>((resolve) => watcher.on('put', (kv) => resolve(`${kv.key.toString()}=${kv.value.toString()}`)));
    await etcd.put(`${prefix}b`).value('2');
    expect(await seen).toBe(`${prefix}b=2`);
    await watcher.cancel();
  });
});

describe('registry', () => {
  const ref = `${env.registry}/gantry-test/pushpull`;
  const tag = runId;
  afterAll(async () => {
    await docker.getImage(`${ref}:${tag}`).remove().catch(() => undefined);
  });

  it('takes a push and serves it back on a pull', async () => {
    const source = await docker.getImage(demoImage('v2')).inspect();
    await docker.getImage(demoImage('v2')).tag({ repo: ref, tag });
    // Docker 20.10 wants an X-Registry-Auth header on every push, even to a registry without auth.
    await followToEnd(await docker.getImage(`${ref}:${tag}`).push({ authconfig: { serveraddress: env.registry } }));

    // Untag locally (the layers stay under the other tags), so the pull below must fetch the manifest.
    await docker.getImage(`${ref}:${tag}`).remove();
    await expect(docker.getImage(`${ref}:${tag}`).inspect()).rejects.toThrow();

    await followToEnd(await docker.pull(`${ref}:${tag}`));
    const pulled = await docker.getImage(`${ref}:${tag}`).inspect();
    expect(pulled.Id).toBe(source.Id);
    expect(pulled.RepoDigests.some((d) => d.startsWith(`${ref}@sha256:`))).toBe(true);
  });
});
