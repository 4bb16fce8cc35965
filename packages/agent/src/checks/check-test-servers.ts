// Local servers and fakes for the checks' unit tests (not used by the agent itself).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CheckTarget, DockerHealth, Endpoint, ExecOutcome } from './check-target';

export interface LocalServer {
  port: number;
  /** Connections open to the server right now. */
  openConnections(): number;
  /** Connections accepted so far. */
  acceptedConnections(): number;
  close(): Promise<void>;
}

function track(server: net.Server): Omit<LocalServer, 'port'> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  server.on('connection', (socket: net.Socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // TLS servers report the raw socket on 'connection' too, so this counts TCP connections for both.
  return {
    openConnections: () => sockets.size,
    acceptedConnections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

async function listen(server: net.Server): Promise<LocalServer> {
  const tracked = track(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, ...tracked };
}

export const startHttpServer = (handler: http.RequestListener): Promise<LocalServer> => listen(http.createServer(handler));

/** A self-signed certificate for CN=gantry-check-test, made once per process with the openssl CLI. */
let certificate: { key: string; cert: string } | undefined;
export function selfSignedCertificate(): { key: string; cert: string } {
  if (!certificate) {
    const dir = mkdtempSync(join(tmpdir(), 'gantry-check-cert-'));
    try {
      execFileSync(
        'openssl',
        ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=gantry-check-test', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
        { stdio: 'ignore' },
      );
      certificate = { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return certificate;
}

export const startHttpsServer = (handler: http.RequestListener): Promise<LocalServer> => listen(https.createServer(selfSignedCertificate(), handler));

/** A TCP listener that accepts and holds connections until the client closes them. */
export const startTcpServer = (): Promise<LocalServer> => listen(net.createServer((socket) => socket.on('error', () => undefined)));

/** A port nothing listens on (it was free a moment ago). */
export async function unusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A CheckTarget whose ports map to local servers and whose exec and Docker health are scripted. */
export function fakeTarget(parts: {
  ports?: Record<number, number>;
  exec?: (command: string[], timeoutMs: number) => Promise<ExecOutcome>;
  dockerHealth?: () => Promise<DockerHealth>;
}): CheckTarget {
  return {
    endpoint: (containerPort): Endpoint | undefined => {
      const port = parts.ports?.[containerPort];
      return port === undefined ? undefined : { host: '127.0.0.1', port };
    },
    exec: parts.exec ?? (() => Promise.reject(new Error('exec not scripted'))),
    dockerHealth: parts.dockerHealth ?? (async () => 'none'),
  };
}
