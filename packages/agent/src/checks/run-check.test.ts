import { checkSchema, terminationCheckSchema, type Check } from '@gantry/spec';
import { fakeTarget, startHttpServer, startTcpServer, type LocalServer } from './check-test-servers';
import { runCheck } from './run-check';

const parse = (fields: Record<string, unknown>): Check => checkSchema.parse(fields);

describe('runCheck', () => {
  let web: LocalServer;
  let tcp: LocalServer;
  beforeAll(async () => {
    web = await startHttpServer((req, res) => (req.url === '/hang' ? undefined : res.end()));
    tcp = await startTcpServer();
  });
  afterAll(async () => {
    await web.close();
    await tcp.close();
  });

  it('runs each kind and stamps the result with title, kind and timing', async () => {
    const target = fakeTarget({
      ports: { 8080: web.port, 5432: tcp.port },
      exec: async () => ({ exitCode: 0, output: '' }),
      dockerHealth: async () => 'healthy',
    });
    const before = Date.now();
    const results = await Promise.all(
      [
        parse({ kind: 'http', port: 8080, id: 'web' }),
        parse({ kind: 'tcp', port: 5432 }),
        parse({ kind: 'exec', command: ['true'] }),
        parse({ kind: 'docker' }),
      ].map((check) => runCheck(check, target)),
    );
    expect(results.map(({ check, kind, ok }) => ({ check, kind, ok }))).toEqual([
      { check: 'web', kind: 'http', ok: true },
      { check: 'tcp', kind: 'tcp', ok: true },
      { check: 'exec', kind: 'exec', ok: true },
      { check: 'docker', kind: 'docker', ok: true },
    ]);
    for (const result of results) {
      expect(result.durationMs).toBeGreaterThanOrEqual(0);
      expect(result.at.getTime()).toBeGreaterThanOrEqual(before);
    }
  });

  it('fails, naming the port, when the check port is not published', async () => {
    const result = await runCheck(parse({ kind: 'http', port: 8080 }), fakeTarget({ ports: {} }));
    expect(result).toMatchObject({ check: 'http', ok: false, detail: 'container port 8080 is not published' });
  });

  it('turns a target that throws into a failed result', async () => {
    const target = { ...fakeTarget({}), endpoint: () => { throw new Error('container gone'); } };
    expect(await runCheck(parse({ kind: 'tcp', port: 1 }), target)).toMatchObject({ ok: false, detail: 'tcp check failed: container gone' });
  });

  it("bounds the attempt by the smaller of the check's timeout and maxTimeoutMs", async () => {
    const target = fakeTarget({ ports: { 80: web.port } });
    const capped = await runCheck(parse({ kind: 'http', port: 80, path: '/hang', timeout: 5 }), target, { maxTimeoutMs: 60 });
    expect(capped).toMatchObject({ ok: false, detail: expect.stringMatching(/timed out after 60 ms$/) });
    expect(capped.durationMs).toBeLessThan(300);
    const own = await runCheck(parse({ kind: 'http', port: 80, path: '/hang', timeout: 0.05 }), target, { maxTimeoutMs: 5000 });
    expect(own).toMatchObject({ ok: false, detail: expect.stringMatching(/timed out after 50 ms$/) });
  });

  it('fails at once when the signal is already aborted', async () => {
    const result = await runCheck(parse({ kind: 'docker' }), fakeTarget({}), { signal: AbortSignal.abort() });
    expect(result).toMatchObject({ ok: false, detail: 'docker check → aborted' });
  });

  it('rejects a connection check: the drain runs those', async () => {
    const connection = terminationCheckSchema.parse({ kind: 'connection' });
    // @ts-expect-error a connection check is not a Check
    await expect(runCheck(connection, fakeTarget({}))).rejects.toThrow(/drain runs it/);
  });
});
