/**
 * Gantryd's drain test, without psutil: a draining container is done once no proxy connection
 * reaches it. Here a container is reached through its published loopback port, so "no connection"
 * is no ESTABLISHED line in /proc/net/tcp whose remote end is that port.
 */
import { readFile } from 'node:fs/promises';

const ESTABLISHED = '01';

/** How many ESTABLISHED connections in `procNetTcp` (the text of /proc/net/tcp) have `port` as their remote port. */
export function establishedTo(procNetTcp: string, port: number): number {
  let count = 0;
  for (const line of procNetTcp.split('\n').slice(1)) {
    // "  sl  local_address rem_address   st ...": addresses are HEXIP:HEXPORT
    const fields = line.trim().split(/\s+/);
    if (fields.length < 4 || fields[3] !== ESTABLISHED) continue;
    const remotePort = Number.parseInt(fields[2].split(':')[1] ?? '', 16);
    if (remotePort === port) count++;
  }
  return count;
}

/** {@link establishedTo} on this network namespace's IPv4 connections right now. */
export async function establishedToPort(port: number): Promise<number> {
  return establishedTo(await readFile('/proc/net/tcp', 'utf8'), port);
}
