import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../proxy/files';

/** The ports link frontends are given from, both ends included. */
export interface LinkPortRange {
  first: number;
  last: number;
}

export const DEFAULT_LINK_PORTS: LinkPortRange = { first: 20000, last: 20999 };

/** "20000-20999" → the range; anything else is an error naming the value. */
export function parseLinkPortRange(text: string): LinkPortRange {
  const match = /^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$/.exec(text);
  const first = Number(match?.[1]);
  const last = Number(match?.[2]);
  if (!match || first < 1 || last > 65535 || first > last) throw new Error(`--link-ports "${text}": expected FIRST-LAST, two ports from 1 to 65535, FIRST not above LAST (e.g. 20000-20999)`);
  return { first, last };
}

/**
 * Every port of the range once, starting at one derived from `seed` (host id, project and link)
 * and wrapping around: hosts that share a machine start their search at different ports, so they
 * rarely even try the same one. Pure.
 */
export function portCandidates(range: LinkPortRange, seed: string): number[] {
  const size = range.last - range.first + 1;
  const offset = createHash('sha256').update(seed).digest().readUInt32BE(0) % size;
  return Array.from({ length: size }, (_, i) => range.first + ((offset + i) % size));
}

/** Whose a port is: one link of one project on one host. */
interface PortOwner {
  hostId: string;
  project: string;
  link: string;
}

const sameOwner = (a: PortOwner, b: PortOwner): boolean => a.hostId === b.hostId && a.project === b.project && a.link === b.link;
const describeOwner = (o: PortOwner): string => `link "${o.link}" of project ${o.project} on host ${o.hostId}`;

/** A link's port cannot be had: the range is used up, or another host of this machine holds the port this host was given. */
export class LinkPortError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LinkPortError';
  }
}

export interface LinkPortStoreOptions {
  /** The state directory shared by the hosts of this machine (gantryd's --state-dir). */
  stateDir: string;
  hostId: string;
  range?: LinkPortRange;
  /** Whether nothing else listens on the port now (the link address is bound by the caller's check). */
  isFree(port: number): Promise<boolean>;
}

/**
 * Each link's port on this host, given once and kept: the same across agent restarts, so a
 * requiring container made before a restart still reaches its link after it.
 *
 * - `<stateDir>/<hostId>/component-links.json` holds this host's ports (`"project/link": port`);
 *   it is the truth, read at every call (a second process on the same host id cannot run).
 * - `<stateDir>/component-link-ports/<port>` is a reservation, created exclusively (O_EXCL), so
 *   two hosts simulated on one machine never take the same port, even when they look at once.
 *
 * A new port is the first candidate (see {@link portCandidates}) that no host of this machine
 * reserved and that nothing else listens on now. A port once given stays, even when the range
 * changes later; deleting the file (and the reservations) gives new ports.
 */
export class LinkPortStore {
  private readonly range: LinkPortRange;
  private readonly file: string;
  private readonly reservations: string;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: LinkPortStoreOptions) {
    this.range = opts.range ?? DEFAULT_LINK_PORTS;
    this.file = join(opts.stateDir, opts.hostId, 'component-links.json');
    this.reservations = join(opts.stateDir, 'component-link-ports');
  }

  /** The link's port on this host: the one given before, else a new one (persisted before it is returned). */
  portFor(project: string, link: string): Promise<number> {
    // One at a time: two workers asking at once must not both pick the same candidate.
    const next = this.tail.then(() => this.portNow({ hostId: this.opts.hostId, project, link }));
    this.tail = next.catch(() => undefined);
    return next;
  }

  /** The ports given so far, as the file has them. */
  given(): Record<string, number> {
    try {
      const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as { ports?: unknown };
      const ports = parsed.ports;
      if (typeof ports !== 'object' || ports === null) throw new Error('no "ports" object');
      for (const [key, port] of Object.entries(ports)) if (!Number.isInteger(port)) throw new Error(`"${key}" is not a port`);
      return ports as Record<string, number>;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new LinkPortError(`${this.file} is not a link port file (${(err as Error).message}): fix or delete it (links then get new ports)`);
    }
  }

  private async portNow(owner: PortOwner): Promise<number> {
    const given = this.given();
    const key = `${owner.project}/${owner.link}`;
    const known = given[key];
    if (known !== undefined) {
      const holder = this.reserve(known, owner);
      if (holder) throw new LinkPortError(`${describeOwner(owner)} was given port ${known}, but ${describeOwner(holder)} holds it (${this.reservationPath(known)}): two hosts of this machine share a state directory and a port; delete one host's component-links.json to give it new ports`);
      return known;
    }
    const taken = new Set(Object.values(given));
    for (const port of portCandidates(this.range, key + '@' + owner.hostId)) {
      if (taken.has(port) || this.reserve(port, owner)) continue;
      if (!(await this.opts.isFree(port))) {
        unlinkSync(this.reservationPath(port));
        continue;
      }
      mkdirSync(join(this.opts.stateDir, owner.hostId), { recursive: true, mode: 0o700 });
      await writeFileAtomic(this.file, `${JSON.stringify({ ports: { ...given, [key]: port } }, null, 2)}\n`);
      return port;
    }
    throw new LinkPortError(`no free port for ${describeOwner(owner)} in ${this.range.first}-${this.range.last}: every one is reserved by a host of this machine or in use (give a wider --link-ports)`);
  }

  private reservationPath(port: number): string {
    return join(this.reservations, String(port));
  }

  /** Takes the port's reservation for `owner` (or finds it already theirs): undefined, else whoever holds it. */
  private reserve(port: number, owner: PortOwner): PortOwner | undefined {
    mkdirSync(this.reservations, { recursive: true, mode: 0o700 });
    const path = this.reservationPath(port);
    try {
      writeFileSync(path, `${JSON.stringify(owner)}\n`, { flag: 'wx', mode: 0o600 });
      return undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder: PortOwner;
    try {
      holder = JSON.parse(readFileSync(path, 'utf8')) as PortOwner;
    } catch {
      // Half-written by a process killed between create and write: whoever it was never recorded the port.
      writeFileSync(path, `${JSON.stringify(owner)}\n`, { mode: 0o600 });
      return undefined;
    }
    return sameOwner(holder, owner) ? undefined : holder;
  }
}
