/**
 * Level-triggered: `gantry local update` SIGKILLed at any point, then run again, converges with no
 * request lost and no orphan container — and HAProxy never stopped serving in between.
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ensureDemoImages, httpGet, repoRoot, serviceEnv, startLoad, waitFor } from '@gantry/testkit';
import { demoConfig } from '../support/demo-config';
import { localHost, type LocalHost } from '../support/local-host';

const PORT = 80;
const gantryBin = () => join(repoRoot(), 'packages/cli/bin/gantry.js');

beforeAll(() => ensureDemoImages(), 600_000);

describe('update killed mid-way', () => {
  let host: LocalHost;
  let configFile: string;
  let hostArgs: string[];
  beforeEach(async () => {
    host = await localHost();
    configFile = join(host.stateDir, 'project.json');
    writeFileSync(configFile, JSON.stringify({ components: [demoConfig(PORT, { drainTimeout: 20_000 }).components[0]] }));
    hostArgs = ['--host', host.ctx.hostId, '--project', host.ctx.project, '--bind', host.ctx.bindAddress, '--state-dir', host.stateDir, '--docker-host', serviceEnv().dockerHost, '--json'];
    const first = spawnSync(process.execPath, [gantryBin(), 'local', 'update', configFile, 'web', '--tag', 'v1', ...hostArgs], { encoding: 'utf8' });
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
  });
  afterEach(() => host.cleanup());

  /** Runs `update --tag v2` and SIGKILLs it as soon as it reports `event`; resolves once it is dead. */
  async function updateKilledAt(event: string): Promise<void> {
    const child = spawn(process.execPath, [gantryBin(), 'local', 'update', configFile, 'web', '--tag', 'v2', ...hostArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let seen = false;
    for await (const line of createInterface({ input: child.stdout })) {
      if ((JSON.parse(line) as { event: string }).event === event) {
        seen = true;
        child.kill('SIGKILL');
        break;
      }
    }
    await exited;
    expect(seen).toBe(true);
  }

  const updateAgain = () => spawnSync(process.execPath, [gantryBin(), 'local', 'update', configFile, 'web', '--tag', 'v2', ...hostArgs], { encoding: 'utf8' });

  it.each([
    ['container-started', 'before the new container was ready'],
    ['switched', 'after the switch, while v1 drains a long request'],
  ])('killed at %s (%s): the next run converges with no request lost', async (event) => {
    const load = startLoad({ url: host.url(PORT, '/'), connections: 4, rate: 200 });
    const slow = httpGet(host.url(PORT, '/slow?ms=4000'), 30_000);
    await waitFor(() => load.snapshot().ok > 50, { what: 'load to be flowing' });

    await updateKilledAt(event);
    // Killed mid-way, the host still serves: HAProxy outlives the engine.
    const okAtKill = load.snapshot().ok;
    await waitFor(() => load.snapshot().ok > okAtKill + 100, { what: 'traffic to keep flowing after the kill' });

    const again = updateAgain();
    expect(again.stderr).toBe('');
    expect(again.status).toBe(0);
    const report = await load.stop();

    expect({ errors: report.errors, non2xx: report.non2xx, samples: report.samples }).toEqual({ errors: 0, non2xx: 0, samples: [] });
    expect(await slow).toMatchObject({ status: 200, version: 'v1' });
    const running = await host.containers();
    expect(running.map((c) => [c.version, c.state])).toEqual([['v2', 'running']]);
    expect((await httpGet(host.url(PORT, '/'))).version).toBe('v2');
  });
});
