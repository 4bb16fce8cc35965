import { randomBytes } from 'node:crypto';
import { demoImage } from '@gantry/testkit';
import { docker, removeLabelled } from './docker-cli';
import { freeLoopbackPort, untilServing, type Peer } from './peer';

/**
 * The naive deploy: `docker stop` + `docker rm` of the running container, then `docker run` of the
 * new version publishing the same host port. The load goes straight to that port.
 */
export function naivePeer(): Peer {
  const label = `org.gantry.bench=peers-naive-${randomBytes(3).toString('hex')}`;
  let port = 0;
  let current: string | undefined;
  let round = 0;
  const run = async (tag: 'v1' | 'v2') => {
    const name = `${label.split('=')[1]}-${round++}-${tag}`;
    current = await docker('run', '-d', '--name', name, '--label', label, '-p', `127.0.0.1:${port}:8080`, demoImage(tag, { registry: true }));
  };
  return {
    name: 'naive',
    how: '`docker stop` (10 s timeout), `docker rm`, `docker run -p 127.0.0.1:PORT:8080` of the new version; load straight to that port',
    async start() {
      port = await freeLoopbackPort();
      await run('v1');
      const url = `http://127.0.0.1:${port}/`;
      await untilServing(url, 'v1');
      return url;
    },
    async update(tag) {
      await docker('stop', current!);
      await docker('rm', current!);
      await run(tag);
    },
    cleanup: () => removeLabelled(label),
  };
}
