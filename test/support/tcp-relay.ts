import net from 'node:net';

/**
 * A TCP relay we control, standing between a client and a server on loopback, to cut a link the
 * way a partition does. `cut('blackhole')` keeps accepting and forwards nothing (packets lost: the
 * peer only notices through its own timeouts); `cut('reject')` closes every connection at once
 * (a RST-like failure). `heal()` forwards again; connections cut stay cut, as after a real one.
 */
export class TcpRelay {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private mode: 'open' | 'blackhole' | 'reject' = 'open';
  port = 0;

  constructor(
    readonly target: { host: string; port: number },
    readonly listenHost = '127.0.0.1',
  ) {}

  /** Listens on `port` (0: any free one) and resolves with the port. */
  async start(port = 0): Promise<number> {
    const server = net.createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.listenHost, () => resolve());
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
    return this.port;
  }

  get url(): string {
    return `http://${this.listenHost}:${this.port}`;
  }

  cut(how: 'blackhole' | 'reject' = 'blackhole'): void {
    this.mode = how;
    // Every open connection dies with the link: a blackholed one just goes silent.
    for (const s of this.sockets) {
      if (how === 'reject') s.destroy();
      else s.pause();
    }
  }

  heal(): void {
    this.mode = 'open';
    // Connections silenced by the cut are dead to both ends by now; drop them so both reconnect.
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private accept(client: net.Socket): void {
    if (this.mode === 'reject') {
      client.destroy();
      return;
    }
    this.track(client);
    if (this.mode === 'blackhole') {
      client.pause();
      return;
    }
    const upstream = net.connect(this.target.port, this.target.host);
    this.track(upstream);
    const pipe = (from: net.Socket, to: net.Socket) =>
      from.on('data', (chunk) => {
        if (this.mode === 'open') to.write(chunk);
      });
    pipe(client, upstream);
    pipe(upstream, client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  }

  private track(s: net.Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
  }
}
