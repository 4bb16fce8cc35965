import type { ComponentLinkHost } from '../links/link-host';

/** Who the engine acts for: one host of one project, its proxy bound on `bindAddress`. */
export interface HostContext {
  project: string;
  hostId: string;
  /** Address the host's HAProxy frontends bind on (e.g. 0.0.0.0 in production, 127.0.1.N in tests). */
  bindAddress: string;
  /** Address containers publish their ports on, for the proxy and the checks to reach them. */
  publishAddress: string;
  /**
   * Where this host's component links listen (see links/). Without it, defined links get no
   * frontend and a component that requires one fails to start, saying so.
   */
  links?: ComponentLinkHost;
}
