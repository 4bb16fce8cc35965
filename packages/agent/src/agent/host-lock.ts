import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';

/** Who holds a host's lock, as written in its lock file. */
export interface LockOwner {
  pid: number;
  /** The process's start time: field 22 of /proc/PID/stat (clock ticks since boot); absent off Linux. */
  startTime?: string;
  /** /proc/sys/kernel/random/boot_id when the lock was taken; absent off Linux. */
  bootId?: string;
  hostname: string;
  hostId: string;
  /** When the lock was taken (ISO 8601). */
  startedAt: string;
}

/** Another live process holds the host's lock, or the lock file cannot be judged safely. */
export class HostLockedError extends Error {
  constructor(
    readonly hostId: string,
    readonly lockFile: string,
    /** The holder, when the file could be read. */
    readonly owner: LockOwner | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'HostLockedError';
  }
}

export interface HostLockOptions {
  /** The state directory shared by hosts on this machine; the lock goes in `<stateDir>/<hostId>/`. */
  stateDir: string;
  hostId: string;
  /** For tests: who we are (default: this process). */
  self?: LockOwner;
  /** For tests: whether a pid runs, and its start time (default: kill(pid, 0) and /proc). */
  probe?: ProcessProbe;
}

/** How the lock tells a live holder from a dead one. */
export interface ProcessProbe {
  alive(pid: number): boolean;
  /** Field 22 of /proc/PID/stat, or undefined when unknown (no /proc, the process is gone). */
  startTime(pid: number): string | undefined;
  bootId(): string | undefined;
}

export const LOCK_FILE = 'gantryd.lock';

/** Field 22 of /proc/PID/stat (starttime). The command name (field 2) may hold spaces and parentheses. */
export function parseStatStartTime(stat: string): string | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = stat.slice(close + 1).trim().split(/\s+/);
  // fields[0] is field 3 (state): field 22 is fields[19].
  const value = fields[19];
  return value !== undefined && /^\d+$/.test(value) ? value : undefined;
}

export const systemProbe: ProcessProbe = {
  alive(pid) {
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      // EPERM: it exists, it is just not ours to signal.
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  },
  startTime(pid) {
    try {
      return parseStatStartTime(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return undefined;
    }
  },
  bootId() {
    try {
      return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  },
};

function currentOwner(hostId: string, probe: ProcessProbe): LockOwner {
  const startTime = probe.startTime(process.pid);
  const bootId = probe.bootId();
  return {
    pid: process.pid,
    ...(startTime !== undefined && { startTime }),
    ...(bootId !== undefined && { bootId }),
    hostname: osHostname(),
    hostId,
    startedAt: new Date().toISOString(),
  };
}

/** A lock file's content: the owner, or for a garbled file whatever pid can still be read from it. */
export function parseLockFile(text: string): { owner: LockOwner } | { garbled: true; pid?: number } {
  try {
    const raw = JSON.parse(text) as Partial<LockOwner>;
    if (raw && Number.isInteger(raw.pid) && raw.pid! > 0 && typeof raw.hostname === 'string' && typeof raw.startedAt === 'string') {
      return {
        owner: {
          pid: raw.pid!,
          hostname: raw.hostname,
          hostId: typeof raw.hostId === 'string' ? raw.hostId : '',
          startedAt: raw.startedAt,
          ...(typeof raw.startTime === 'string' && { startTime: raw.startTime }),
          ...(typeof raw.bootId === 'string' && { bootId: raw.bootId }),
        },
      };
    }
  } catch {
    // garbled: fall through
  }
  const pid = /"pid"\s*:\s*(\d+)/.exec(text)?.[1] ?? /^\s*(\d+)\s*$/.exec(text)?.[1];
  return pid !== undefined && Number(pid) > 0 ? { garbled: true, pid: Number(pid) } : { garbled: true };
}

/** Why `owner` no longer holds the lock, or undefined if it may still (then the lock is respected). */
export function staleReason(owner: LockOwner, probe: ProcessProbe, self: Pick<LockOwner, 'hostname' | 'bootId'>): string | undefined {
  // Another machine (a state dir on shared storage, another container): its pids mean nothing here.
  if (owner.hostname !== self.hostname) return undefined;
  if (owner.bootId !== undefined && self.bootId !== undefined && owner.bootId !== self.bootId) return `pid ${owner.pid} ran before the last boot`;
  if (!probe.alive(owner.pid)) return `pid ${owner.pid} is not running`;
  if (owner.startTime !== undefined) {
    const now = probe.startTime(owner.pid);
    if (now !== undefined && now !== owner.startTime) return `pid ${owner.pid} is now another process (started at tick ${now}, not ${owner.startTime})`;
  }
  return undefined;
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * An exclusive lock on one host's state directory (`<stateDir>/<hostId>/`), so two gantryd on one
 * machine never drive the same host. Node has no flock: the lock is a file created with O_EXCL,
 * holding the owner's pid, its start time (/proc/PID/stat field 22) and the boot id. A lock whose
 * owner is gone — not running, a reused pid, an earlier boot — is stale and taken over; a live
 * owner's is refused with a {@link HostLockedError} naming it. A garbled file is stale only if the
 * pid it still shows is not running; otherwise the error names the file for the operator to judge.
 *
 * Taking over a stale lock is itself serialised by a second O_EXCL file (`gantryd.lock.takeover`,
 * held for a few system calls), so two processes that both find the same stale lock cannot both
 * end up holding the new one.
 */
export class HostLock {
  readonly dir: string;
  readonly file: string;
  private held?: string;

  private constructor(
    private readonly opts: HostLockOptions,
    private readonly probe: ProcessProbe,
    readonly owner: LockOwner,
  ) {
    this.dir = join(opts.stateDir, opts.hostId);
    this.file = join(this.dir, LOCK_FILE);
  }

  /** Takes the lock or throws HostLockedError (or a filesystem error: the state dir cannot be written). */
  static acquire(opts: HostLockOptions): HostLock {
    const probe = opts.probe ?? systemProbe;
    const lock = new HostLock(opts, probe, opts.self ?? currentOwner(opts.hostId, probe));
    lock.take();
    return lock;
  }

  /** The stale lock taken over, if any (for the log). */
  tookOver?: { owner?: LockOwner; reason: string };

  /** Removes the lock file if it is still ours. Idempotent; never throws. */
  release(): void {
    const mine = this.held;
    this.held = undefined;
    if (mine === undefined) return;
    try {
      if (readFileSync(this.file, 'utf8') === mine) unlinkSync(this.file);
    } catch {
      // gone already
    }
  }

  private take(): void {
    mkdirSync(this.dir, { recursive: true });
    const content = JSON.stringify(this.owner);
    for (let attempt = 0; ; attempt++) {
      if (this.tryCreate(this.file, content)) {
        this.held = content;
        return;
      }
      const verdict = this.judge();
      if (verdict.kind === 'gone') continue; // released meanwhile: try again
      if (verdict.kind === 'held') throw verdict.error;
      if (verdict.kind === 'unreadable') {
        // Just created by another process that has not written it yet, or garbled: look again shortly.
        if (attempt < 10) {
          sleepSync(50);
          continue;
        }
        throw verdict.error;
      }
      // Stale: remove it, under the takeover lock, only if it is still the very file we judged.
      if (attempt >= 50) throw new HostLockedError(this.opts.hostId, this.file, verdict.owner, `cannot take over the stale lock ${this.file} (${verdict.reason}): another process keeps taking it over`);
      this.removeStale(verdict.ino, verdict.text);
      this.tookOver = { owner: verdict.owner, reason: verdict.reason };
    }
  }

  private tryCreate(path: string, content: string): boolean {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
    try {
      writeSync(fd, content);
    } finally {
      closeSync(fd);
    }
    return true;
  }

  private read(path: string): { ino: number; text: string } | undefined {
    try {
      const ino = statSync(path).ino;
      const text = readFileSync(path, 'utf8');
      return { ino, text };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  private judge():
    | { kind: 'gone' }
    | { kind: 'held'; error: HostLockedError }
    | { kind: 'unreadable'; error: HostLockedError }
    | { kind: 'stale'; ino: number; text: string; owner?: LockOwner; reason: string } {
    const { hostId } = this.opts;
    const found = this.read(this.file);
    if (!found) return { kind: 'gone' };
    const parsed = parseLockFile(found.text);
    if ('owner' in parsed) {
      const reason = staleReason(parsed.owner, this.probe, this.owner);
      if (reason !== undefined) return { kind: 'stale', ino: found.ino, text: found.text, owner: parsed.owner, reason };
      const o = parsed.owner;
      const where = o.hostname === this.owner.hostname ? 'on this machine' : `on machine ${o.hostname} (the state dir is shared)`;
      return {
        kind: 'held',
        error: new HostLockedError(hostId, this.file, o, `host ${hostId} is already run by another gantryd ${where}: pid ${o.pid}, started at ${o.startedAt} (lock ${this.file})`),
      };
    }
    if (parsed.pid !== undefined && !this.probe.alive(parsed.pid)) {
      return { kind: 'stale', ino: found.ino, text: found.text, reason: `garbled lock file, and its pid ${parsed.pid} is not running` };
    }
    const pid = parsed.pid !== undefined ? `it names pid ${parsed.pid}, which is running` : 'it names no pid';
    return {
      kind: 'unreadable',
      error: new HostLockedError(hostId, this.file, undefined, `host ${hostId}: the lock file ${this.file} is garbled and ${pid}; if no gantryd runs for ${hostId} on this machine, remove it`),
    };
  }

  private removeStale(ino: number, text: string): void {
    const takeover = `${this.file}.takeover`;
    if (!this.tryCreate(takeover, JSON.stringify(this.owner))) {
      // Another process is taking over right now (for a few system calls) — or died doing so.
      const other = this.read(takeover);
      const parsed = other && parseLockFile(other.text);
      const dead = parsed && 'owner' in parsed ? staleReason(parsed.owner, this.probe, this.owner) !== undefined : parsed?.pid !== undefined && !this.probe.alive(parsed.pid);
      let old = false;
      try {
        old = Date.now() - statSync(takeover).mtimeMs > 10_000;
      } catch {
        // gone already
      }
      if (other && (dead || old)) {
        try {
          unlinkSync(takeover);
        } catch {
          // someone else cleaned it up
        }
      } else {
        sleepSync(20);
      }
      return; // the caller looks at the lock again
    }
    try {
      const now = this.read(this.file);
      if (now && now.ino === ino && now.text === text) unlinkSync(this.file);
    } finally {
      try {
        unlinkSync(takeover);
      } catch {
        // nothing to clean
      }
    }
  }
}
