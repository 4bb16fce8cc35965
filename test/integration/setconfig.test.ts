/**
 * Gantryd's `--setconfig NAME.FIELD=VALUE` on `gantry local` (real dockerd and HAProxy) and on
 * `gantry config set` (real etcd): the override is applied over the file and validated with it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { ensureDemoImages, httpGet, serviceEnv } from '@gantry/testkit';
import { KeyLayout } from '@gantry/spec';
import { lastJson, runGantry } from '../support/cli';
import { demoConfig } from '../support/demo-config';
import { localHost, type LocalHost } from '../support/local-host';

beforeAll(() => ensureDemoImages(), 600_000);

const dir = mkdtempSync(join(tmpdir(), 'gantry-setconfig-'));
const file = join(dir, 'shop.json');
// The file says port 80 and v1: the overrides move it.
writeFileSync(file, JSON.stringify(demoConfig(80)));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('gantry local --setconfig', () => {
  let host: LocalHost;
  beforeEach(async () => {
    host = await localHost({ port: 8089 });
  });
  afterEach(() => host.cleanup());
  const local = (...args: string[]) =>
    runGantry(['local', ...args, '--project', host.ctx.project, '--host', host.ctx.hostId, '--bind', host.ctx.bindAddress, '--state-dir', host.stateDir, '--docker-host', serviceEnv().dockerHost, '--haproxy', serviceEnv().haproxyBin], 120_000);

  it('runs the file with the overrides applied: another tag on another port', async () => {
    const r = local('update', file, 'web', '--setconfig', 'web.tag=v2', '--setconfig', 'web.ports.0.external=8089', '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect((await httpGet(host.url(8089, '/'))).version).toBe('v2');
    expect((await host.containers()).map((c) => c.version)).toEqual(['v2']);
  }, 120_000);

  it('validates the result like the file: a bad value is named by its path, exit 2, nothing started', async () => {
    const bad = local('update', file, 'web', '--setconfig', 'web.ports.0.external=eighty');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain(`${file} with --setconfig web.ports.0.external=eighty is invalid`);
    expect(bad.stderr).toContain('components[0].ports[0].external');
    const unknown = local('update', file, 'web', '--setconfig', 'db.tag=v2');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('error: --setconfig db.tag=v2: the config has no component "db" (it has: web)');
    expect(await host.containers()).toEqual([]);
  });
});

describe('gantry config set --setconfig', () => {
  const keys = new KeyLayout();
  const project = `setconfig-${process.pid}`;
  const etcd = new Etcd3({ hosts: serviceEnv().etcdEndpoints });
  const set = (...args: string[]) => runGantry(['config', 'set', file, '--project', project, '--etcd', serviceEnv().etcdEndpoints.join(','), ...args]);
  afterAll(async () => {
    await etcd.delete().prefix(keys.project(project));
    etcd.close();
  });

  it('stores the file with the overrides, and nothing when the result is invalid', async () => {
    const ok = set('--setconfig', 'web.readyTimeout=5000', '--setconfig', 'web.labels.team="core"', '--json');
    expect(ok.status).toBe(0);
    expect(lastJson(ok.stdout).changed).toBe(true);
    const stored = JSON.parse((await etcd.get(keys.config(project)).string())!);
    expect(stored.components[0]).toMatchObject({ readyTimeout: 5000, labels: { team: 'core' }, tag: 'v1' });
    const bad = set('--setconfig', 'web.readyTimeout=-1');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('components[0].readyTimeout');
    expect(JSON.parse((await etcd.get(keys.config(project)).string())!).components[0].readyTimeout).toBe(5000);
  });
});
