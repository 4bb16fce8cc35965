import type Docker from 'dockerode';
import { tryBind } from '../proxy/bind-probe';
import { discoverBridgeAddress } from './link-address';
import type { LinkEndpoint } from './link-environment';
import { LinkPortStore, type LinkPortRange } from './link-ports';

/** Where this host serves component links. */
export interface ComponentLinkHost {
  /** The link's address and port on this host: the same every time. Throws, naming why, when it cannot be had. */
  endpoint(project: string, link: string): Promise<LinkEndpoint>;
}

export interface LinkHostOptions {
  /** The state directory shared by the hosts of this machine; each host's ports go in `<stateDir>/<hostId>/`. */
  stateDir: string;
  hostId: string;
  range?: LinkPortRange;
  /** An address of this host that containers reach, or the Docker to ask for its bridge's (see discoverBridgeAddress). */
  address: string | { docker: Docker };
}

/**
 * Links on one address of this host (by default Docker's bridge address, 172.17.0.1), each on its
 * own port from a {@link LinkPortStore}. The address is asked of Docker once it is first needed
 * (a gantryd that starts while dockerd is away still starts), and kept once known.
 */
export class HostLinkEndpoints implements ComponentLinkHost {
  private address?: Promise<string>;
  private readonly ports: LinkPortStore;

  constructor(private readonly opts: LinkHostOptions) {
    this.ports = new LinkPortStore({ stateDir: opts.stateDir, hostId: opts.hostId, range: opts.range, isFree: (port) => this.isFree(port) });
  }

  async endpoint(project: string, link: string): Promise<LinkEndpoint> {
    const address = await this.linkAddress();
    return { address, port: await this.ports.portFor(project, link) };
  }

  private linkAddress(): Promise<string> {
    const { address } = this.opts;
    if (typeof address === 'string') return Promise.resolve(address);
    // A failure is not kept: the next update asks again.
    this.address ??= discoverBridgeAddress(address.docker).catch((err: unknown) => {
      this.address = undefined;
      throw err;
    });
    return this.address;
  }

  private async isFree(port: number): Promise<boolean> {
    const address = await this.linkAddress();
    const code = await tryBind(address, port);
    if (code === undefined) return true;
    if (code === 'EADDRINUSE' || code === 'EACCES') return false;
    throw new Error(`component links: cannot listen on ${address}: ${code}${code === 'EADDRNOTAVAIL' ? ' (no interface of this host has that address: is dockerd on another machine? give --link-address)' : ''}`);
  }
}
