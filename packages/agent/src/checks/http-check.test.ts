import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkSchema } from '@gantry/spec';
import { waitFor } from '@gantry/testkit';
import { startHttpServer, startHttpsServer, unusedPort, type LocalServer } from './check-test-servers';
import { checkHttp, httpCheckUrl, httpStatusPasses, type HttpCheck } from './http-check';

const httpCheck = (fields: Record<string, unknown>): HttpCheck => checkSchema.parse({ kind: 'http', port: 8080, ...fields }) as HttpCheck;

const seen: IncomingMessage[] = [];
function routes(req: IncomingMessage, res: ServerResponse): void {
  seen.push(req);
  switch (req.url) {
    case '/ok':
      return void res.end('fine');
    case '/redirect':
      return void res.writeHead(302, { Location: '/ok' }).end();
    case '/fail':
      return void res.writeHead(503).end('not yet');
    case '/teapot':
      return void res.writeHead(418).end();
    case '/big':
      // 1 MiB body: read up to the cap, then the connection is dropped.
      res.writeHead(200);
      for (let i = 0; i < 16; i += 1) res.write(Buffer.alloc(64 * 1024, 'x'));
      return void res.end();
    case '/hang':
      return; // never answers
    default:
      return void res.writeHead(404).end();
  }
}

describe('checkHttp', () => {
  let server: LocalServer;
  let tls: LocalServer;
  const at = (s: LocalServer) => ({ host: '127.0.0.1', port: s.port });
  const limits = { timeoutMs: 2000 };

  beforeAll(async () => {
    server = await startHttpServer(routes);
    tls = await startHttpsServer(routes);
  });
  afterAll(async () => {
    await server.close();
    await tls.close();
  });

  it('passes on 2xx and 3xx, naming the URL and status', async () => {
    expect(await checkHttp(httpCheck({ path: '/ok' }), at(server), limits)).toEqual({
      ok: true,
      detail: `GET http://127.0.0.1:${server.port}/ok → 200`,
    });
    expect(await checkHttp(httpCheck({ path: '/redirect' }), at(server), limits)).toMatchObject({ ok: true, detail: expect.stringMatching(/→ 302$/) });
  });

  it('fails on 5xx and on statuses outside expectStatus', async () => {
    expect(await checkHttp(httpCheck({ path: '/fail' }), at(server), limits)).toEqual({
      ok: false,
      detail: `GET http://127.0.0.1:${server.port}/fail → 503`,
    });
    expect(await checkHttp(httpCheck({ path: '/ok', expectStatus: [204] }), at(server), limits)).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/→ 200 \(expected 204\)$/),
    });
  });

  it('passes on a status listed in expectStatus, even a 4xx', async () => {
    expect(await checkHttp(httpCheck({ path: '/teapot', expectStatus: [418] }), at(server), limits)).toMatchObject({ ok: true });
  });

  it('sends Connection: close and leaves no connection open', async () => {
    seen.length = 0;
    await checkHttp(httpCheck({ path: '/ok' }), at(server), limits);
    expect(seen[0].headers.connection).toBe('close');
    await waitFor(() => server.openConnections() === 0, { timeoutMs: 2000, intervalMs: 5, what: 'the check connection to close' });
  });

  it('reads a large body only up to the cap, then drops the connection', async () => {
    expect(await checkHttp(httpCheck({ path: '/big' }), at(server), limits)).toMatchObject({ ok: true, detail: expect.stringMatching(/→ 200$/) });
    await waitFor(() => server.openConnections() === 0, { timeoutMs: 2000, intervalMs: 5, what: 'the check connection to close' });
  });

  it('fails after the timeout, not later, when the server never answers', async () => {
    const started = performance.now();
    const outcome = await checkHttp(httpCheck({ path: '/hang' }), at(server), { timeoutMs: 200 });
    const took = performance.now() - started;
    expect(outcome).toEqual({ ok: false, detail: `GET http://127.0.0.1:${server.port}/hang → timed out after 200 ms` });
    expect(took).toBeGreaterThanOrEqual(195);
    expect(took).toBeLessThan(400);
    await waitFor(() => server.openConnections() === 0, { timeoutMs: 2000, intervalMs: 5, what: 'the hung connection to close' });
  });

  it('fails with the error code when the connection is refused', async () => {
    const port = await unusedPort();
    expect(await checkHttp(httpCheck({ path: '/ready' }), { host: '127.0.0.1', port }, limits)).toEqual({
      ok: false,
      detail: `GET http://127.0.0.1:${port}/ready → connect ECONNREFUSED`,
    });
  });

  it('stops at once when aborted', async () => {
    const abort = new AbortController();
    const attempt = checkHttp(httpCheck({ path: '/hang' }), at(server), { timeoutMs: 5000, signal: abort.signal });
    await waitFor(() => seen.some((req) => req.url === '/hang' && req.socket.localPort === server.port), { timeoutMs: 2000, intervalMs: 5 });
    abort.abort();
    expect(await attempt).toMatchObject({ ok: false, detail: expect.stringMatching(/→ aborted$/) });
  });

  it('speaks HTTPS and accepts a self-signed certificate, without warnings', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      expect(await checkHttp(httpCheck({ kind: 'https', path: '/ok' }), at(tls), limits)).toEqual({
        ok: true,
        detail: `GET https://127.0.0.1:${tls.port}/ok → 200`,
      });
      expect(await checkHttp(httpCheck({ kind: 'https', path: '/fail' }), at(tls), limits)).toMatchObject({ ok: false, detail: expect.stringMatching(/→ 503$/) });
      await waitFor(() => tls.openConnections() === 0, { timeoutMs: 2000, intervalMs: 5, what: 'the TLS connections to close' });
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
  });

  it('fails an https check against a plain-HTTP port with the TLS error', async () => {
    const outcome = await checkHttp(httpCheck({ kind: 'https', path: '/ok' }), at(server), limits);
    expect(outcome.ok).toBe(false);
    expect(outcome.detail).toMatch(new RegExp(`^GET https://127.0.0.1:${server.port}/ok → \\S`));
  });
});

describe('httpStatusPasses', () => {
  it('takes any 2xx or 3xx by default, else exactly the expected statuses', () => {
    expect([199, 200, 204, 301, 399, 400, 404, 500].map((s) => httpStatusPasses(s))).toEqual([false, true, true, true, true, false, false, false]);
    expect(httpStatusPasses(503, [503])).toBe(true);
    expect(httpStatusPasses(200, [204])).toBe(false);
  });
});

describe('httpCheckUrl', () => {
  it('brackets IPv6 hosts', () => {
    expect(httpCheckUrl({ kind: 'http', path: '/x' }, { host: '::1', port: 81 })).toBe('http://[::1]:81/x');
  });
});
