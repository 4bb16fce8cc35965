import { createServer, isIP } from 'node:net';
import type { Frontend } from './frontend';
import { hostPort } from './frontend';

/** A frontend's address and port cannot be bound on this host. */
export class ProxyBindError extends Error {
  constructor(
    readonly frontend: string,
    readonly bind: string,
    readonly code: string,
  ) {
    super(`frontend ${frontend} cannot bind ${bind}: ${code}${code === 'EADDRINUSE' ? ' (another process listens there)' : code === 'EADDRNOTAVAIL' ? ' (no interface of this host has that address)' : ''}`);
    this.name = 'ProxyBindError';
  }
}

/** Binds and releases `address:port` once; resolves with the error code, or `undefined` when it could bind. */
export function tryBind(address: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen({ host: address, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

const bindKey = (f: Frontend): string => `${f.bindAddress}:${f.port}`;

/**
 * Checks that HAProxy will be able to bind the frontends that `next` adds to `previous`. Worth it
 * because HAProxy 2.6 handles a failed bind during a reload badly: it pauses the old worker's
 * listeners while it retries (~2 s of refused connections, measured) before giving up. It also
 * keeps a fresh HAProxy from silently sharing a port (SO_REUSEPORT) with a stray one. Addresses
 * that are not IPs are left to HAProxy's own checks.
 */
export async function probeNewBinds(previous: Frontend[], next: Frontend[], opts: { ours?: Frontend[]; graceMs?: number } = {}): Promise<void> {
  const held = new Set(previous.map(bindKey));
  // Binds a HAProxy of ours held before its master died: its worker may still be exiting and
  // holding them for a moment, so those are retried for a while before they count as taken.
  const ours = new Set((opts.ours ?? []).map(bindKey));
  for (const frontend of next) {
    if (held.has(bindKey(frontend)) || isIP(frontend.bindAddress) === 0) continue;
    const deadline = Date.now() + (ours.has(bindKey(frontend)) ? (opts.graceMs ?? 5_000) : 0);
    let code = await tryBind(frontend.bindAddress, frontend.port);
    while (code === 'EADDRINUSE' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      code = await tryBind(frontend.bindAddress, frontend.port);
    }
    if (code !== undefined) throw new ProxyBindError(frontend.name, hostPort(frontend.bindAddress, frontend.port), code);
  }
}
