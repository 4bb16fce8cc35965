import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import { createDockerClient } from '@gantry/agent';
import { serviceEnv } from '@gantry/testkit';

/**
 * The demo app's versions pushed to a repository of their own in the local registry
 * (`<registry>/gantry/<name>-<random>`), and not present under that name in dockerd: a host must
 * pull them (their layers are local already, so a pull is quick), and pruning them touches no
 * other test's images. Build the demo images first (ensureDemoImages).
 */
export async function publishDemoRepo(name: string, versions: readonly string[]): Promise<{ repo: string; docker: Docker; present: (version: string) => Promise<boolean>; remove: () => Promise<void> }> {
  const docker = createDockerClient(serviceEnv().dockerHost);
  const repo = `${serviceEnv().registry}/gantry/${name}-${randomBytes(3).toString('hex')}`;
  for (const v of versions) {
    await docker.getImage(`gantry/demo-app:${v}`).tag({ repo, tag: v });
    // An empty auth: the local registry takes anonymous pushes, and the API wants the header.
    const stream = (await docker.getImage(`${repo}:${v}`).push({ authconfig: {} } as never)) as unknown as NodeJS.ReadableStream;
    await new Promise<void>((resolve, reject) =>
      docker.modem.followProgress(stream, (err: Error | null, events: Array<{ error?: string }>) => {
        const failed = events?.find((e) => e.error)?.error;
        if (err || failed) reject(new Error(`push of ${repo}:${v} failed: ${err?.message ?? failed}`));
        else resolve();
      }),
    );
    // Untagged here (the image stays, as gantry/demo-app:v): a host has to pull it under this name.
    await docker.getImage(`${repo}:${v}`).remove({});
  }
  const present = (v: string) =>
    docker
      .getImage(`${repo}:${v}`)
      .inspect()
      .then(() => true)
      .catch(() => false);
  const remove = async () => {
    for (const v of versions) await docker.getImage(`${repo}:${v}`).remove({}).catch(() => undefined);
  };
  return { repo, docker, present, remove };
}
