import type { ServerState } from './frontend';

/** One row of `show stat` (CSV), with the fields the agent uses typed. */
export interface StatRow {
  pxname: string;
  svname: string;
  /** Requests queued for this server/proxy. */
  qcur: number;
  /** Current sessions. */
  scur: number;
  /** e.g. `OPEN`, `UP`, `DOWN`, `MAINT`, `DRAIN`, `no check`. */
  status: string;
  /** 0 frontend, 1 backend, 2 server, 3 listener. */
  type: number;
  /** `ip:port` of a server, empty otherwise. */
  addr: string;
  /** Every field by its header name, as text. */
  fields: Record<string, string>;
}

const int = (text: string | undefined): number => {
  const n = Number.parseInt(text ?? '', 10);
  return Number.isFinite(n) ? n : 0;
};

/** Parses `show stat` CSV output: a `# pxname,svname,...` header, then one line per proxy/server. */
export function parseShowStat(text: string): StatRow[] {
  const lines = text.split('\n');
  const headerLine = lines.find((l) => l.startsWith('# '));
  if (headerLine === undefined) throw new Error(`not show stat output: ${text.slice(0, 200)}`);
  const header = headerLine.slice(2).split(',');
  const rows: StatRow[] = [];
  for (const line of lines) {
    if (line === '' || line.startsWith('#')) continue;
    const values = line.split(',');
    const fields: Record<string, string> = {};
    header.forEach((name, i) => {
      if (name !== '') fields[name] = values[i] ?? '';
    });
    rows.push({
      pxname: fields.pxname ?? '',
      svname: fields.svname ?? '',
      qcur: int(fields.qcur),
      scur: int(fields.scur),
      status: fields.status ?? '',
      type: int(fields.type),
      addr: fields.addr ?? '',
      fields,
    });
  }
  return rows;
}

/** One server line of `show servers state`. */
export interface ServerStateRow {
  backendId: number;
  backend: string;
  serverId: number;
  server: string;
  address: string;
  port: number;
  /** srv_op_state: 0 stopped, 1 starting, 2 running, 3 stopping. */
  opState: number;
  /** srv_admin_state bit field, see {@link adminStateOf}. */
  adminState: number;
  /** Derived from the admin state: what the agent calls the server's state. */
  state: ServerState;
}

/** Admin-state bits of HAProxy 2.6 (include/haproxy/server-t.h). */
export const ADMIN = {
  FMAINT: 0x01,
  IMAINT: 0x02,
  /** In maintenance because of the configuration (`disabled`); stays set after `state ready`, harmless alone. */
  CMAINT: 0x04,
  FDRAIN: 0x08,
  IDRAIN: 0x10,
  RMAINT: 0x20,
} as const;
const ANY_MAINT = ADMIN.FMAINT | ADMIN.IMAINT | ADMIN.RMAINT;
const ANY_DRAIN = ADMIN.FDRAIN | ADMIN.IDRAIN;

export function adminStateOf(adminState: number): ServerState {
  if (adminState & ANY_MAINT) return 'maint';
  if (adminState & ANY_DRAIN) return 'drain';
  return 'ready';
}

/** Parses `show servers state [backend]` (format version 1). */
export function parseServersState(text: string): ServerStateRow[] {
  const lines = text.split('\n');
  const version = lines[0]?.trim();
  if (version !== '1') throw new Error(`unsupported servers state output (version ${JSON.stringify(version)}): ${text.slice(0, 200)}`);
  const headerLine = lines.find((l) => l.startsWith('# '));
  if (headerLine === undefined) throw new Error(`servers state output has no header: ${text.slice(0, 200)}`);
  const header = headerLine.slice(2).split(' ');
  const col = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`servers state output lacks column ${name}`);
    return i;
  };
  const c = {
    beId: col('be_id'),
    be: col('be_name'),
    srvId: col('srv_id'),
    srv: col('srv_name'),
    addr: col('srv_addr'),
    op: col('srv_op_state'),
    admin: col('srv_admin_state'),
    port: col('srv_port'),
  };
  const rows: ServerStateRow[] = [];
  for (const line of lines.slice(1)) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const v = line.trim().split(/\s+/);
    const adminState = int(v[c.admin]);
    rows.push({
      backendId: int(v[c.beId]),
      backend: v[c.be] ?? '',
      serverId: int(v[c.srvId]),
      server: v[c.srv] ?? '',
      address: v[c.addr] ?? '',
      port: int(v[c.port]),
      opState: int(v[c.op]),
      adminState,
      state: adminStateOf(adminState),
    });
  }
  return rows;
}

export interface ProcEntry {
  pid: number;
  /** How many reloads this process has survived (for workers) or performed (for the master). */
  reloads: number;
}

/** `show proc` on the master CLI. */
export interface ProcList {
  master: ProcEntry & {
    /** Failed reloads since the last successful one (HAProxy resets it to 0 on success). */
    failedReloads: number;
  };
  /** The worker(s) serving new connections. */
  current: ProcEntry[];
  /** Workers left from earlier reloads, still finishing their sessions. */
  old: ProcEntry[];
}

/** Parses `show proc`, e.g. `4539  master  8 [failed: 0]  0d00h15m48s  2.6.12`, then `# workers` / `# old workers` sections. */
export function parseShowProc(text: string): ProcList {
  let section: 'head' | 'current' | 'old' | 'other' = 'head';
  let master: ProcList['master'] | undefined;
  const current: ProcEntry[] = [];
  const old: ProcEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const title = line.slice(1).trim();
      section = title === 'workers' ? 'current' : title === 'old workers' ? 'old' : title.startsWith('<PID>') ? 'head' : 'other';
      continue;
    }
    const [pidText, type, reloadsText] = line.split(/\s+/);
    const entry = { pid: int(pidText), reloads: int(reloadsText) };
    if (type === 'master') {
      const failed = /\[failed:\s*(\d+)\]/.exec(line);
      master = { ...entry, failedReloads: failed ? int(failed[1]) : 0 };
    } else if (type === 'worker' && section === 'current') current.push(entry);
    else if (type === 'worker' && section === 'old') old.push(entry);
  }
  if (!master) throw new Error(`not show proc output: ${text.slice(0, 200)}`);
  return { master, current, old };
}

/** The `Pid:` line of `show info`. */
export function parseInfoPid(text: string): number {
  const match = /^Pid:\s*(\d+)/m.exec(text);
  if (!match) throw new Error(`not show info output: ${text.slice(0, 200)}`);
  return int(match[1]);
}

/** One stream of `show sess`. */
export interface SessionRow {
  /** Stream pointer, the argument of `shutdown session`. */
  id: string;
  frontend: string;
  /** `<NONE>` until a backend is chosen. */
  backend: string;
  /** `<none>` until a server is chosen. */
  server: string;
}

/** Parses `show sess`: `0x55a6...: proto=tcpv4 src=... fe=fe_web be=be_web srv=a ts=00 ...`, one stream per line. */
export function parseShowSess(text: string): SessionRow[] {
  const rows: SessionRow[] = [];
  for (const line of text.split('\n')) {
    const id = /^(0x[0-9a-f]+):/.exec(line);
    if (!id) continue;
    const field = (name: string): string => new RegExp(`\\s${name}=(\\S+)`).exec(line)?.[1] ?? '';
    rows.push({ id: id[1], frontend: field('fe'), backend: field('be'), server: field('srv') });
  }
  return rows;
}
