import { isIP } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import type Docker from 'dockerode';
import { tryBind } from '../proxy/bind-probe';

/** The network the agent's containers are attached to (none is set at create: Docker's default bridge). */
export const CONTAINER_NETWORK = 'bridge';

/** What of `docker network inspect` the address is read from. */
export interface BridgeNetwork {
  IPAM?: { Config?: Array<{ Gateway?: string; Subnet?: string }> | null } | null;
  Options?: Record<string, string> | null;
}

/**
 * Where the host's own address on the containers' bridge may be, best first: the address containers
 * reach the host on, and no other network can (unlike 0.0.0.0, which would offer every link on
 * every interface). Docker's IPAM gateway when it names one (IPv4); the IPv4 address of the
 * bridge's interface (`com.docker.network.bridge.name`, docker0) when the system lists it (Node
 * lists only interfaces that are up: docker0 is down while no container is attached); else the
 * first address of each IPv4 subnet, which Docker gives its bridge unless told otherwise (a default
 * bridge often names only its subnet). Pure.
 */
export function bridgeAddressCandidates(network: BridgeNetwork, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>): string[] {
  const configs = network.IPAM?.Config ?? [];
  const gateways = configs.map((c) => c.Gateway).filter((g): g is string => g !== undefined && isIP(g) === 4);
  const bridge = network.Options?.['com.docker.network.bridge.name'];
  const onInterface = bridge ? (interfaces[bridge] ?? []).filter((i) => i.family === 'IPv4').map((i) => i.address) : [];
  const firstOfSubnets = configs.map((c) => c.Subnet && firstHostAddress(c.Subnet)).filter((a): a is string => typeof a === 'string');
  return [...new Set([...gateways, ...onInterface, ...firstOfSubnets])];
}

/** "172.17.0.0/16" → "172.17.0.1"; undefined for anything but an IPv4 subnet with room for hosts. */
export function firstHostAddress(subnet: string): string | undefined {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(subnet);
  if (!match || isIP(`${match[1]}.${match[2]}.${match[3]}.${match[4]}`) !== 4) return undefined;
  const bits = Number(match[5]);
  if (bits > 30) return undefined;
  const address = match.slice(1, 5).reduce((n, octet) => n * 256 + Number(octet), 0);
  const network = bits === 0 ? 0 : address - (address % 2 ** (32 - bits));
  const first = network + 1;
  return [24, 16, 8, 0].map((shift) => Math.floor(first / 2 ** shift) % 256).join('.');
}

/**
 * Asks Docker for its bridge's address on this host: the first candidate (see
 * bridgeAddressCandidates) this machine can listen on, which proves it is one of its own. An error
 * says what was asked and what to do instead.
 */
export async function discoverBridgeAddress(docker: Docker, network = CONTAINER_NETWORK): Promise<string> {
  let inspected: BridgeNetwork;
  try {
    inspected = (await docker.getNetwork(network).inspect()) as BridgeNetwork;
  } catch (err) {
    throw new Error(`component links: cannot inspect Docker network "${network}" to find the address containers reach this host on: ${(err as Error).message}`, { cause: err });
  }
  const candidates = bridgeAddressCandidates(inspected, networkInterfaces());
  for (const address of candidates) if ((await tryBind(address, 0)) === undefined) return address;
  throw new Error(
    `component links: no address of Docker network "${network}" is one of this machine's (${candidates.length > 0 ? `tried ${candidates.join(', ')}` : 'it names none'}; is dockerd on another machine?): give the address with --link-address`,
  );
}
