import Docker from 'dockerode';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

/** Where dockerode should connect, parsed from a DOCKER_HOST string. */
export type DockerEndpoint = { socketPath: string } | { host: string; port: number; protocol: 'http' };

/**
 * Parses `unix:///path/docker.sock`, `tcp://host:port` (plain HTTP; TLS is not supported) or
 * `http://host:port`. An empty/undefined value means the default socket.
 */
export function parseDockerHost(dockerHost: string | undefined): DockerEndpoint {
  const value = dockerHost?.trim();
  if (!value) return { socketPath: DEFAULT_DOCKER_SOCKET };
  if (value.startsWith('unix://')) return { socketPath: value.slice('unix://'.length) || DEFAULT_DOCKER_SOCKET };
  if (value.startsWith('/')) return { socketPath: value };
  const match = /^(tcp|http):\/\/([^/:]+|\[[^\]]+\]):(\d+)\/?$/.exec(value);
  if (!match) {
    throw new Error(`unsupported DOCKER_HOST "${value}": expected unix:///path/to/docker.sock or tcp://host:port`);
  }
  return { host: match[2].replace(/^\[|\]$/g, ''), port: Number(match[3]), protocol: 'http' };
}

/** A Dockerode for `dockerHost`, else `$DOCKER_HOST`, else /var/run/docker.sock. */
export function createDockerClient(dockerHost: string | undefined = process.env.DOCKER_HOST): Docker {
  const endpoint = parseDockerHost(dockerHost);
  // Pass every connection field explicitly: docker-modem merges its own defaults read from
  // $DOCKER_HOST, which would otherwise win over a socketPath given here.
  return 'socketPath' in endpoint
    ? new Docker({ socketPath: endpoint.socketPath, host: undefined, port: undefined })
    : new Docker({ host: endpoint.host, port: endpoint.port, protocol: endpoint.protocol, socketPath: undefined });
}

/** Where a client talks to, for messages: "unix:///var/run/docker.sock" or "tcp://host:port". */
export function describeDockerEndpoint(docker: Docker): string {
  const modem = (docker as unknown as { modem?: { socketPath?: unknown; host?: unknown; port?: unknown } }).modem;
  if (modem && typeof modem.socketPath === 'string' && modem.socketPath) return `unix://${modem.socketPath}`;
  if (modem && typeof modem.host === 'string' && modem.host) return `tcp://${modem.host}:${String(modem.port ?? '')}`;
  return 'docker';
}
