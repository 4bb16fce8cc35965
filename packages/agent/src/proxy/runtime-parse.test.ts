import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminStateOf, parseInfoPid, parseServersState, parseShowProc, parseShowSess, parseShowStat } from './runtime-parse';

// Captured from HAProxy 2.6.12 (Debian 12) while a slow request was in flight on c-aaaaaaaaaaaa.
const fixture = (name: string) => readFileSync(join(__dirname, '__fixtures__', name), 'utf8');

describe('parseShowStat', () => {
  it('types the rows of the full CSV', () => {
    const rows = parseShowStat(fixture('show-stat.csv'));
    expect(rows.map((r) => [r.pxname, r.svname, r.type])).toEqual([
      ['fe_db', 'FRONTEND', 0],
      ['be_db', 'c-dddddddddddd', 2],
      ['be_db', 'BACKEND', 1],
      ['fe_web', 'FRONTEND', 0],
      ['be_web', 'c-aaaaaaaaaaaa', 2],
      ['be_web', 'c-bbbbbbbbbbbb', 2],
      ['be_web', 'c-cccccccccccc', 2],
      ['be_web', 'BACKEND', 1],
    ]);
    const a = rows.find((r) => r.svname === 'c-aaaaaaaaaaaa');
    expect(a).toMatchObject({ scur: 1, qcur: 0, status: 'no check', addr: '127.0.0.1:18181' });
    expect(a?.fields.stot).toBe('1');
    expect(rows.find((r) => r.svname === 'c-bbbbbbbbbbbb')?.status).toBe('DRAIN');
    expect(rows.find((r) => r.svname === 'c-cccccccccccc')).toMatchObject({ status: 'MAINT', addr: '[::1]:18184' });
  });

  it('shows a session held by an old worker only in that worker', () => {
    const scur = (file: string) => parseShowStat(fixture(file)).map((r) => [r.svname, r.scur]);
    expect(scur('show-stat-old-worker.csv')).toEqual([['c-aaaaaaaaaaaa', 1], ['c-bbbbbbbbbbbb', 0], ['c-cccccccccccc', 0]]);
    expect(scur('show-stat-current-worker.csv')).toEqual([['c-aaaaaaaaaaaa', 0], ['c-bbbbbbbbbbbb', 0], ['c-cccccccccccc', 0]]);
  });

  it('rejects error answers', () => {
    expect(() => parseShowStat('No such proxy.\n\n')).toThrow(/not show stat output/);
  });
});

describe('parseServersState', () => {
  it('types servers and derives ready/drain/maint', () => {
    expect(parseServersState(fixture('show-servers-state.txt')).map((r) => [r.backend, r.server, r.address, r.port, r.state])).toEqual([
      ['be_db', 'c-dddddddddddd', '127.0.0.1', 18182, 'ready'],
      ['be_web', 'c-aaaaaaaaaaaa', '127.0.0.1', 18181, 'ready'],
      ['be_web', 'c-bbbbbbbbbbbb', '127.0.0.1', 18182, 'drain'],
      ['be_web', 'c-cccccccccccc', '::1', 18184, 'maint'],
    ]);
  });

  it('parses the rendered state file the same way', () => {
    expect(parseServersState(fixture('servers.state')).map((r) => r.state)).toEqual(['ready', 'ready', 'drain', 'maint']);
  });

  it('maps admin-state bits', () => {
    expect(adminStateOf(0)).toBe('ready');
    expect(adminStateOf(0x04)).toBe('ready'); // configured disabled, then set ready
    expect(adminStateOf(0x05)).toBe('maint');
    expect(adminStateOf(0x08)).toBe('drain');
    expect(adminStateOf(0x09)).toBe('maint');
    expect(adminStateOf(0x20)).toBe('maint');
  });

  it('rejects error answers', () => {
    expect(() => parseServersState("Can't find backend.\n\n")).toThrow(/unsupported servers state output/);
  });
});

describe('parseShowProc', () => {
  it('reads master, current and old workers', () => {
    expect(parseShowProc(fixture('show-proc.txt'))).toEqual({ master: { pid: 27458, reloads: 0, failedReloads: 0 }, current: [{ pid: 27460, reloads: 0 }], old: [] });
    expect(parseShowProc(fixture('show-proc-old-worker.txt'))).toEqual({
      master: { pid: 27458, reloads: 1, failedReloads: 0 },
      current: [{ pid: 27496, reloads: 0 }],
      old: [{ pid: 27460, reloads: 1 }],
    });
  });

  it('shows a failed reload: the previous worker stays current', () => {
    expect(parseShowProc(fixture('show-proc-failed-reload.txt'))).toEqual({
      master: { pid: 27458, reloads: 2, failedReloads: 1 },
      current: [{ pid: 27496, reloads: 1 }],
      old: [],
    });
  });

  it('rejects other output', () => {
    expect(() => parseShowProc("Can't find the target PID matching the prefix '@!1'\n")).toThrow(/not show proc output/);
  });
});

describe('parseInfoPid', () => {
  it('reads the pid of the answering worker', () => {
    expect(parseInfoPid(fixture('show-info.txt'))).toBe(27460);
    expect(() => parseInfoPid('')).toThrow(/not show info output/);
  });
});

describe('parseShowSess', () => {
  it('lists streams with their frontend, backend and server', () => {
    expect(parseShowSess(fixture('show-sess-old-worker.txt'))).toEqual([
      { id: '0x55b8e646ab10', frontend: 'fe_web', backend: 'be_web', server: 'c-aaaaaaaaaaaa' },
      { id: '0x55b8e658a3a0', frontend: 'GLOBAL', backend: '<NONE>', server: '<none>' },
    ]);
    expect(parseShowSess(fixture('show-sess.txt')).map((s) => s.server)).toEqual(['c-aaaaaaaaaaaa', '<none>']);
    expect(parseShowSess('')).toEqual([]);
  });
});
