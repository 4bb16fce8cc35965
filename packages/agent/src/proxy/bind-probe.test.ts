import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ProxyBindError, probeNewBinds } from './bind-probe';
import type { Frontend } from './frontend';

const fe = (name: string, bindAddress: string, port: number): Frontend => ({ name, bindAddress, port, mode: 'http' });

describe('probeNewBinds', () => {
  it('passes free binds, and leaves alone binds already held or not given as an IP', async () => {
    const server = createServer();
    const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
    try {
      await expect(probeNewBinds([fe('held', '127.0.0.1', port)], [fe('held', '127.0.0.1', port)])).resolves.toBeUndefined();
      await expect(probeNewBinds([], [fe('named', 'localhost.invalid', port)])).resolves.toBeUndefined();
      const taken = await probeNewBinds([], [fe('taken', '127.0.0.1', port)]).catch((err: unknown) => err);
      expect(taken).toBeInstanceOf(ProxyBindError);
      expect(taken).toMatchObject({ frontend: 'taken', bind: `127.0.0.1:${port}`, code: 'EADDRINUSE' });
    } finally {
      server.close();
    }
  });

  it('refuses an address no interface has', async () => {
    await expect(probeNewBinds([], [fe('far', '192.0.2.1', 8080)])).rejects.toThrow('frontend far cannot bind 192.0.2.1:8080: EADDRNOTAVAIL');
  });

  it("waits a grace period for a bind our previous HAProxy held, as its last worker exits", async () => {
    const server = createServer();
    const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
    const ours = [fe('web', '127.0.0.1', port)];
    // Held for good: a taken port is still reported, once the grace period is over.
    await expect(probeNewBinds([], ours, { ours, graceMs: 100 })).rejects.toThrow('EADDRINUSE');
    // Released during the grace period: the probe passes.
    const probing = probeNewBinds([], ours, { ours, graceMs: 5_000 });
    server.close();
    await expect(probing).resolves.toBeUndefined();
  });
});

