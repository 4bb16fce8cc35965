/**
 * The gantry and gantryd binaries as an operator runs them: help, exit codes, --json, and clear
 * errors that name what is wrong.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@gantry/testkit';

const gantry = (...args: string[]) => spawnSync(process.execPath, [join(repoRoot(), 'packages/cli/bin/gantry.js'), ...args], { encoding: 'utf8' });
const gantryd = (...args: string[]) => spawnSync(process.execPath, [join(repoRoot(), 'packages/agent/bin/gantryd.js'), ...args], { encoding: 'utf8' });

describe('binaries', () => {
  it('gantry and gantryd print their help', () => {
    const cli = gantry('--help');
    expect(cli.status).toBe(0);
    expect(cli.stdout).toMatch(/gantry local <verb>/);
    expect(gantry('local', '--help').stdout).toMatch(/update <config> <component>/);
    const agent = gantryd('--help');
    expect(agent.status).toBe(0);
    expect(agent.stdout).toMatch(/--etcd/);
  });

  it('rejects a usage error with exit code 2', () => {
    const run = gantry('local', 'upgrade', 'x.json', 'web');
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/error: /);
  });
});

describe('a bad config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-cli-'));
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify({ components: [{ name: 'web', repo: 'x', ports: [{ external: 'eighty', container: 8080 }], readyTimeot: 5 }] }));

  it('lists every problem with its JSON path, exit code 2', () => {
    const run = gantry('local', 'update', file, 'web', '--host', 'cli-test', '--state-dir', dir);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`${file} is invalid`);
    expect(run.stderr).toContain('components[0].ports[0].external');
    expect(run.stderr).toContain('readyTimeot');
  });

  it('says the same as JSON with --json', () => {
    const run = gantry('local', 'update', file, 'web', '--host', 'cli-test', '--state-dir', dir, '--json');
    expect(run.status).toBe(2);
    const error = JSON.parse(run.stdout.trim().split('\n').pop()!);
    expect(error).toMatchObject({ event: 'error', problems: expect.arrayContaining([expect.objectContaining({ path: 'components[0].ports[0].external' })]) });
  });

  it('names a missing file', () => {
    const run = gantry('local', 'update', join(dir, 'nope.json'), 'web');
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/cannot read config .*nope\.json: ENOENT/);
  });
});

describe("gantryd's last-resort crash handlers", () => {
  // What nothing else caught (no input may reach this: test/integration/fuzz-keys.test.ts asserts it).
  for (const [what, code] of [
    ['an unhandled rejection', "Promise.reject(new Error('boom from a rejection'))"],
    ['an uncaught exception', "setTimeout(() => { throw new Error('boom from a throw'); }, 0)"],
  ] as const) {
    it(`log ${what} as one JSON line with its stack, then exit 70`, () => {
      const handlers = join(repoRoot(), 'packages/agent/dist/agent/crash-report.js');
      const run = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(handlers)}).installCrashHandlers({ host: 'h1', project: 'p' }); ${code}`], { encoding: 'utf8' });
      expect(run.status).toBe(70);
      const lines = run.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0])).toMatchObject({ level: 'error', event: 'crash', host: 'h1', project: 'p', error: expect.stringMatching(/^boom/), stack: expect.stringContaining('Error: boom') });
    });
  }
});
