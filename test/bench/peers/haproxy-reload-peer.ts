import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoImage, httpGet, serviceEnv, waitFor } from '@gantry/testkit';
import { freeHostAddresses } from '../../support/local-host';
import { docker, publishedPort, removeLabelled } from './docker-cli';
import { untilServing, type Peer } from './peer';
import { establishedToPort } from './tcp-connections';

const PORT = 80;
/** Gantryd looked for connections every 10 s; a short period here keeps that interval out of the wall time. */
const DRAIN_POLL_MS = 100;

/**
 * Gantryd's template (proxy/haproxy.tmpl in DevTable/gantryd) for one HTTP route, in HAProxy 2.6
 * syntax: a frontend on the external port and a backend with the one current container.
 * `option httpclose` is Gantryd's: one request per connection, so an old worker has no idle
 * keep-alive connection to drop on a reload.
 */
export function gantrydConfig(bind: string, server: { name: string; address: string }): string {
  return [
    'global',
    '    maxconn 4096',
    '',
    'defaults',
    '    mode http',
    '    option abortonclose',
    '    option forwardfor',
    '    option httpclose',
    '    timeout connect 5000',
    '',
    'frontend port_80',
    `    bind ${bind}`,
    '    timeout client 86400000',
    '    default_backend web-backend',
    '',
    'backend web-backend',
    '    balance roundrobin',
    '    timeout server 86400000',
    `    server ${server.name} ${server.address}`,
    '',
  ].join('\n');
}

/** Live pids whose command line names `configPath`: the master and every worker, old ones included. */
function processesUsing(configPath: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(configPath)) found.push(pid);
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/**
 * Gantryd's way: start the new container on a new published port, rewrite the HAProxy config to
 * point at it alone, reload (SIGUSR2 to the master-worker master: the new worker takes the
 * listeners, the old one finishes its sessions), wait until no proxy connection reaches the old
 * container (Gantryd's drain test), then `docker stop` + `docker rm` it.
 */
export function haproxyReloadPeer(): Peer {
  const id = randomBytes(3).toString('hex');
  const label = `org.gantry.bench=peers-reload-${id}`;
  // Made in start(): a peer that never started leaves nothing behind.
  let dir = '';
  let configPath = '';
  let master: ChildProcess | undefined;
  let masterExit: string | undefined;
  let bind = '';
  let current: { id: string; port: number } | undefined;
  let round = 0;

  const runContainer = async (tag: 'v1' | 'v2') => {
    const containerId = await docker('run', '-d', '--name', `peers-reload-${id}-${round++}-${tag}`, '--label', label, '-p', '127.0.0.1::8080', demoImage(tag, { registry: true }));
    const port = await publishedPort(containerId, 8080);
    // Gantryd's ready check: the app's readiness endpoint, on the container itself.
    await waitFor(async () => (await httpGet(`http://127.0.0.1:${port}/ready`, 2_000)).status === 200, { intervalMs: 20, what: `${tag} ready on 127.0.0.1:${port}` });
    return { id: containerId, port };
  };
  const writeConfig = (target: { id: string; port: number }) => {
    writeFileSync(`${configPath}.tmp`, gantrydConfig(bind, { name: `web-${target.id.slice(0, 12)}`, address: `127.0.0.1:${target.port}` }));
    renameSync(`${configPath}.tmp`, configPath); // a reload never reads half a file
  };

  return {
    name: 'HAProxy reload',
    how: 'new container on a new published port, ready check, config rewritten to it alone, SIGUSR2 to the HAProxy master, no connection left to the old container (polled every 100 ms in /proc/net/tcp), `docker stop` + `docker rm` of the old one',
    async start() {
      dir = mkdtempSync(join(tmpdir(), `gantry-bench-peers-reload-${id}-`));
      configPath = join(dir, 'haproxy.cfg');
      [bind] = (await freeHostAddresses(1, PORT)).map((address) => `${address}:${PORT}`);
      current = await runContainer('v1');
      writeConfig(current);
      const log = openSync(join(dir, 'haproxy.log'), 'a');
      try {
        master = spawn(serviceEnv().haproxyBin, ['-W', '-f', configPath, '-p', join(dir, 'haproxy.pid')], { cwd: dir, stdio: ['ignore', log, log] });
      } finally {
        closeSync(log);
      }
      master.on('exit', (code, signal) => (masterExit = `HAProxy master exited (${signal ?? `code ${code}`}); log in ${dir}/haproxy.log`));
      const url = `http://${bind}/`;
      await untilServing(url, 'v1');
      return url;
    },
    async update(tag) {
      const old = current!;
      const next = await runContainer(tag);
      writeConfig(next);
      if (masterExit) throw new Error(masterExit);
      master!.kill('SIGUSR2');
      current = next;
      await untilServing(`http://${bind}/`, tag); // the new worker serves (one connection per request)
      await waitFor(async () => (await establishedToPort(old.port)) === 0, { timeoutMs: 60_000, intervalMs: DRAIN_POLL_MS, what: `no connection to the old container on 127.0.0.1:${old.port}` });
      await docker('stop', old.id);
      await docker('rm', old.id);
    },
    async cleanup() {
      await removeLabelled(label);
      if (master && masterExit === undefined) {
        master.kill('SIGTERM');
        await waitFor(() => masterExit !== undefined, { timeoutMs: 5_000, intervalMs: 20, what: 'HAProxy master to exit' }).catch(() => master!.kill('SIGKILL'));
      }
      if (!dir) return;
      // Workers of earlier configs outlive a master killed hard for a moment; none may stay.
      for (const pid of processesUsing(configPath)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
