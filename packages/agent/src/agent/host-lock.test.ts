import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostLock, HostLockedError, LOCK_FILE, parseLockFile, parseStatStartTime, systemProbe, type LockOwner } from './host-lock';

let stateDir: string;
beforeEach(() => {
  stateDir = mkdtempSync(join(tmpdir(), 'gantry-lock-'));
});
afterEach(() => rmSync(stateDir, { recursive: true, force: true }));

const lockFile = (host = 'h1') => join(stateDir, host, LOCK_FILE);

/** A pid that ran and has exited (reused within a test run only by extreme bad luck). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

function writeLock(owner: Partial<LockOwner> | string, host = 'h1'): void {
  mkdirSync(join(stateDir, host), { recursive: true });
  writeFileSync(lockFile(host), typeof owner === 'string' ? owner : JSON.stringify({ hostname: hostname(), hostId: host, startedAt: '2026-01-01T00:00:00.000Z', ...owner }));
}

function refusal(fn: () => unknown): HostLockedError {
  try {
    fn();
  } catch (err) {
    if (err instanceof HostLockedError) return err;
    throw err;
  }
  throw new Error('expected HostLockedError');
}

describe('the host lock', () => {
  it('is exclusive: a second taker is refused with the holder’s pid and the lock file; released, it can be taken again', () => {
    const first = HostLock.acquire({ stateDir, hostId: 'h1' });
    const held = JSON.parse(readFileSync(lockFile(), 'utf8')) as LockOwner;
    expect(held).toMatchObject({ pid: process.pid, hostId: 'h1', hostname: hostname() });
    if (existsSync('/proc/self/stat')) expect(held.startTime).toMatch(/^\d+$/);

    const err = refusal(() => HostLock.acquire({ stateDir, hostId: 'h1' }));
    expect(err.message).toContain('host h1 is already run by another gantryd on this machine');
    expect(err.message).toContain(`pid ${process.pid}`);
    expect(err.message).toContain(lockFile());
    expect(err.owner?.pid).toBe(process.pid);

    // Another host id on the same state dir is another lock.
    const other = HostLock.acquire({ stateDir, hostId: 'h2' });
    first.release();
    expect(existsSync(lockFile())).toBe(false);
    const again = HostLock.acquire({ stateDir, hostId: 'h1' });
    expect(again.tookOver).toBeUndefined();
    again.release();
    other.release();
  });

  it('takes over a lock left by a process that is gone', () => {
    const pid = deadPid();
    writeLock({ pid, startTime: '1' });
    const lock = HostLock.acquire({ stateDir, hostId: 'h1' });
    expect(lock.tookOver?.reason).toBe(`pid ${pid} is not running`);
    expect((JSON.parse(readFileSync(lockFile(), 'utf8')) as LockOwner).pid).toBe(process.pid);
    lock.release();
  });

  it('takes over a lock whose pid now belongs to another process (another start time), or to an earlier boot', () => {
    // Our own pid, but recorded with another start time: the pid was reused.
    writeLock({ pid: process.pid, startTime: '1' });
    const reused = HostLock.acquire({ stateDir, hostId: 'h1' });
    if (systemProbe.startTime(process.pid) !== undefined) {
      expect(reused.tookOver?.reason).toMatch(new RegExp(`^pid ${process.pid} is now another process`));
    }
    reused.release();

    const bootId = systemProbe.bootId();
    if (bootId !== undefined) {
      writeLock({ pid: process.pid, startTime: systemProbe.startTime(process.pid), bootId: 'another-boot' });
      const rebooted = HostLock.acquire({ stateDir, hostId: 'h1' });
      expect(rebooted.tookOver?.reason).toBe(`pid ${process.pid} ran before the last boot`);
      rebooted.release();
    }
  });

  it('respects a lock written on another machine (a shared state dir): its pid means nothing here', () => {
    writeLock({ pid: deadPid(), hostname: 'elsewhere' });
    const err = refusal(() => HostLock.acquire({ stateDir, hostId: 'h1' }));
    expect(err.message).toContain('on machine elsewhere (the state dir is shared)');
    expect(readFileSync(lockFile(), 'utf8')).toContain('elsewhere'); // untouched
  });

  it('never crashes on a garbled lock file: stale if the pid it shows is gone, else refused naming the file', () => {
    const pid = deadPid();
    writeLock(`{"pid": ${pid}, "hostn`);
    const taken = HostLock.acquire({ stateDir, hostId: 'h1' });
    expect(taken.tookOver?.reason).toBe(`garbled lock file, and its pid ${pid} is not running`);
    taken.release();

    writeLock(`{"pid": ${process.pid}, "hostn`);
    const live = refusal(() => HostLock.acquire({ stateDir, hostId: 'h1' }));
    expect(live.message).toContain(`the lock file ${lockFile()} is garbled and it names pid ${process.pid}, which is running`);
    expect(live.owner).toBeUndefined();

    writeLock('\u0000\u0000 not json');
    const noPid = refusal(() => HostLock.acquire({ stateDir, hostId: 'h1' }));
    expect(noPid.message).toContain(`the lock file ${lockFile()} is garbled and it names no pid; if no gantryd runs for h1 on this machine, remove it`);
  });

  it('release removes only its own lock', () => {
    const lock = HostLock.acquire({ stateDir, hostId: 'h1' });
    writeLock({ pid: process.pid, startedAt: 'someone else' });
    lock.release();
    expect(readFileSync(lockFile(), 'utf8')).toContain('someone else');
    lock.release(); // idempotent
  });

  it('clears a takeover file left by a process that died taking over', () => {
    writeLock({ pid: deadPid() });
    writeFileSync(`${lockFile()}.takeover`, JSON.stringify({ pid: deadPid(), hostname: hostname(), hostId: 'h1', startedAt: '2026-01-01T00:00:00.000Z' }));
    const lock = HostLock.acquire({ stateDir, hostId: 'h1' });
    expect(lock.tookOver).toBeDefined();
    expect(existsSync(`${lockFile()}.takeover`)).toBe(false);
    lock.release();
  });

  it('fails plainly (not as "locked") when the state dir cannot be created', () => {
    const file = join(stateDir, 'a-file');
    writeFileSync(file, '');
    expect(() => HostLock.acquire({ stateDir: file, hostId: 'h1' })).toThrow(/ENOTDIR|EEXIST/);
  });
});

describe('the host lock between processes', () => {
  it('of eight processes racing to take over one stale lock, exactly one wins', async () => {
    // host-lock.ts needs only node's own modules: compiled on its own, real processes can load it.
    const { transformFileSync } = require('@swc/core') as typeof import('@swc/core');
    const compiled = join(stateDir, 'host-lock.js');
    writeFileSync(compiled, transformFileSync(join(__dirname, 'host-lock.ts'), { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }).code);
    writeLock({ pid: deadPid() });
    const startAt = Date.now() + 2_000;
    const script = `
      const { HostLock } = require(${JSON.stringify(compiled)});
      while (Date.now() < ${startAt}) {} // all at once
      try {
        const lock = HostLock.acquire({ stateDir: ${JSON.stringify(stateDir)}, hostId: 'h1' });
        process.stdout.write('won');
        // Held until every racer has had its say (the test closes our stdin).
        process.stdin.on('data', () => undefined).on('end', () => lock.release());
      } catch (err) {
        process.stdout.write(err.name === 'HostLockedError' ? 'refused' : 'error: ' + err.message);
      }`;
    const children = Array.from({ length: 8 }, () => {
      const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      return { child, said: new Promise<void>((resolve) => child.stdout.once('data', () => resolve())), exited: new Promise<string>((resolve) => child.once('close', () => resolve(out))) };
    });
    await Promise.all(children.map((c) => c.said));
    for (const c of children) c.child.stdin.end();
    const outcomes = await Promise.all(children.map((c) => c.exited));
    expect(outcomes.sort()).toEqual(['refused', 'refused', 'refused', 'refused', 'refused', 'refused', 'refused', 'won']);
    expect(existsSync(lockFile())).toBe(false); // released by the winner
    expect(existsSync(`${lockFile()}.takeover`)).toBe(false);
  });
});

describe('lock file parsing', () => {
  it('reads field 22 of /proc/PID/stat, whatever the command name holds', () => {
    const rest = Array.from({ length: 30 }, (_, i) => String(i + 3)); // fields 3..32
    rest[0] = 'S';
    expect(parseStatStartTime(`1234 (a (weird) name) ${rest.join(' ')}`)).toBe('22');
    expect(parseStatStartTime('garbage')).toBeUndefined();
    if (existsSync('/proc/self/stat')) expect(parseStatStartTime(readFileSync('/proc/self/stat', 'utf8'))).toMatch(/^\d+$/);
  });

  it('tells a full owner from a garbled file, and still finds a pid in the latter', () => {
    expect(parseLockFile(JSON.stringify({ pid: 7, hostname: 'm', hostId: 'h', startedAt: 'x', startTime: '9' }))).toEqual({ owner: { pid: 7, hostname: 'm', hostId: 'h', startedAt: 'x', startTime: '9' } });
    expect(parseLockFile('{"pid": 42')).toEqual({ garbled: true, pid: 42 });
    expect(parseLockFile('42\n')).toEqual({ garbled: true, pid: 42 });
    expect(parseLockFile('')).toEqual({ garbled: true });
    expect(parseLockFile('{"pid": -1, "hostname": "m", "startedAt": "x"}')).toEqual({ garbled: true });
  });
});
