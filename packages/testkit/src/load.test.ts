import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startLoad } from './load';
import { waitFor } from './poll';

/** An in-process server answering every request after `delayMs`, as the demo app would (X-App-Version). */
async function server(delayMs: number): Promise<{ url: string; close(): Promise<void> }> {
  const s = http.createServer((_req, res) => setTimeout(() => res.writeHead(200, { 'X-App-Version': 'v1' }).end('ok'), delayMs));
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        s.closeAllConnections();
        s.close(() => resolve());
      }),
  };
}

describe('startLoad latencies', () => {
  it('records one latency per 2xx response, each at least the server delay', async () => {
    const app = await server(20);
    try {
      const load = startLoad({ url: app.url, connections: 2, rate: 100, recordLatencies: true });
      await waitFor(() => load.snapshot().ok >= 10, { timeoutMs: 5_000, intervalMs: 10 });
      const report = await load.stop();
      expect(report.latenciesMs).toHaveLength(report.ok);
      expect(Math.min(...report.latenciesMs!)).toBeGreaterThanOrEqual(19); // timers may fire a hair early
      expect(Math.max(...report.latenciesMs!)).toBeLessThan(2_000);
    } finally {
      await app.close();
    }
  });

  it('records none unless asked, and none for failed requests', async () => {
    const app = await server(0);
    const plain = startLoad({ url: app.url, connections: 1, rate: 100 });
    await waitFor(() => plain.snapshot().ok >= 3, { timeoutMs: 5_000, intervalMs: 10 });
    expect((await plain.stop()).latenciesMs).toBeUndefined();
    await app.close();

    const refused = startLoad({ url: app.url, connections: 1, rate: 100, recordLatencies: true });
    await waitFor(() => refused.snapshot().errors >= 3, { timeoutMs: 5_000, intervalMs: 10 });
    const report = await refused.stop();
    expect(report.ok).toBe(0);
    expect(report.latenciesMs).toEqual([]);
  });
});
