import { createDockerClient, parseDockerHost } from './docker-client';

describe('parseDockerHost', () => {
  it('parses unix sockets, tcp and the default', () => {
    expect(parseDockerHost(undefined)).toEqual({ socketPath: '/var/run/docker.sock' });
    expect(parseDockerHost('')).toEqual({ socketPath: '/var/run/docker.sock' });
    expect(parseDockerHost('unix:///tmp/gantry-dev/docker.sock')).toEqual({ socketPath: '/tmp/gantry-dev/docker.sock' });
    expect(parseDockerHost('tcp://127.0.0.1:2375')).toEqual({ host: '127.0.0.1', port: 2375, protocol: 'http' });
    expect(parseDockerHost('tcp://[::1]:2375')).toEqual({ host: '::1', port: 2375, protocol: 'http' });
  });

  it('rejects what it cannot use', () => {
    expect(() => parseDockerHost('ssh://user@host')).toThrow(/unsupported DOCKER_HOST "ssh:\/\/user@host"/);
    expect(() => parseDockerHost('tcp://host')).toThrow(/unsupported DOCKER_HOST/);
  });

  it('a socket path given explicitly wins over $DOCKER_HOST', () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'tcp://10.9.9.9:2375';
    try {
      const modem = createDockerClient('unix:///tmp/x.sock').modem as unknown as { socketPath?: string; host?: string };
      expect(modem.socketPath).toBe('/tmp/x.sock');
      expect(modem.host).toBeUndefined();
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });
});
