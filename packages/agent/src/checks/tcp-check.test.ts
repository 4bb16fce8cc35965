import { waitFor } from '@gantry/testkit';
import { startTcpServer, unusedPort } from './check-test-servers';
import { checkTcp } from './tcp-check';

describe('checkTcp', () => {
  it('passes when the port accepts, and closes the connection at once', async () => {
    const server = await startTcpServer();
    try {
      expect(await checkTcp({ host: '127.0.0.1', port: server.port }, { timeoutMs: 2000 })).toEqual({
        ok: true,
        detail: `connect 127.0.0.1:${server.port} → connected`,
      });
      expect(server.acceptedConnections()).toBe(1);
      await waitFor(() => server.openConnections() === 0, { timeoutMs: 2000, intervalMs: 5, what: 'the check connection to close' });
    } finally {
      await server.close();
    }
  });

  it('fails with the error code when the connection is refused', async () => {
    const port = await unusedPort();
    expect(await checkTcp({ host: '127.0.0.1', port }, { timeoutMs: 2000 })).toEqual({
      ok: false,
      detail: `connect 127.0.0.1:${port} → connect ECONNREFUSED`,
    });
  });

  it('fails as aborted when its signal is already aborted', async () => {
    const server = await startTcpServer();
    try {
      const outcome = await checkTcp({ host: '127.0.0.1', port: server.port }, { timeoutMs: 2000, signal: AbortSignal.abort() });
      expect(outcome).toEqual({ ok: false, detail: `connect 127.0.0.1:${server.port} → aborted` });
    } finally {
      await server.close();
    }
  });
});
