import http from 'node:http';

/** What a load run saw. Every request sent ends in exactly one of ok, non2xx or errors. */
export interface LoadReport {
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  /** Responses by the `X-App-Version` header (the demo app sets it). */
  byVersion: Record<string, number>;
  /** When (epoch ms) the first 2xx response of each version arrived. */
  firstSeen: Record<string, number>;
  /** A few error and non-2xx descriptions, for the failure message. */
  samples: string[];
  durationMs: number;
  /** Requests per second actually achieved. */
  rate: number;
  /**
   * With `recordLatencies`: the latency (ms, request sent → response complete) of every 2xx
   * response, in completion order. Failed requests are in `errors`/`non2xx`, not here: a refused
   * connection fails in microseconds and would make a broken deploy look fast.
   */
  latenciesMs?: number[];
}

export interface LoadOptions {
  url: string;
  /** Keep-alive connections kept open in parallel. */
  connections?: number;
  /** Target requests per second over all connections. */
  rate?: number;
  /** Per-request timeout (ms); a request slower than this counts as an error. */
  timeoutMs?: number;
  /** Keep every 2xx response's latency in `latenciesMs` (for percentiles; off by default). */
  recordLatencies?: boolean;
}

export interface LoadRun {
  /** Counts so far. */
  snapshot(): LoadReport;
  /** Stops sending, waits for requests in flight, and returns the final counts. */
  stop(): Promise<LoadReport>;
}

/**
 * Continuous keep-alive HTTP load. Unlike autocannon it never reconnects silently: a request whose
 * connection was dropped counts as an error, so `errors + non2xx` is the number of requests a
 * deploy lost.
 */
export function startLoad(opts: LoadOptions): LoadRun {
  const { url, connections = 8, rate = 300, timeoutMs = 10_000, recordLatencies = false } = opts;
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const report: LoadReport = { sent: 0, ok: 0, non2xx: 0, errors: 0, byVersion: {}, firstSeen: {}, samples: [], durationMs: 0, rate: 0 };
  const latencies: number[] | undefined = recordLatencies ? [] : undefined;
  const started = Date.now();
  const note = (what: string) => {
    if (report.samples.length < 10) report.samples.push(`${new Date().toISOString()} ${what}`);
  };
  let stopping = false;
  const inFlight = new Set<Promise<void>>();

  const one = (): Promise<void> =>
    new Promise<void>((resolve) => {
      report.sent++;
      const sentAt = performance.now();
      const req = http.get(url, { agent, timeout: timeoutMs }, (res) => {
        const version = String(res.headers['x-app-version'] ?? 'unknown');
        res.resume();
        res.on('end', () => {
          if (res.statusCode! >= 200 && res.statusCode! < 300) {
            report.ok++;
            latencies?.push(performance.now() - sentAt);
            report.byVersion[version] = (report.byVersion[version] ?? 0) + 1;
            report.firstSeen[version] ??= Date.now();
          } else {
            report.non2xx++;
            note(`HTTP ${res.statusCode} from ${version}`);
          }
          resolve();
        });
        res.on('error', (err) => {
          report.errors++;
          note(`response error: ${err.message}`);
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no response within ${timeoutMs} ms`)));
      req.on('error', (err) => {
        report.errors++;
        note(`request error: ${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`);
        resolve();
      });
    });

  // Each connection runs a paced loop, so the total rate is spread evenly and stays keep-alive.
  const perConnectionGapMs = (1000 * connections) / rate;
  const loops = Array.from({ length: connections }, async (_, i) => {
    let next = Date.now() + (i * perConnectionGapMs) / connections;
    while (!stopping) {
      const wait = next - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (stopping) break;
      next += perConnectionGapMs;
      const p = one();
      inFlight.add(p);
      await p;
      inFlight.delete(p);
    }
  });

  const finish = (): LoadReport => {
    report.durationMs = Date.now() - started;
    report.rate = Math.round((report.sent * 1000) / Math.max(1, report.durationMs));
    const copy: LoadReport = { ...report, byVersion: { ...report.byVersion }, firstSeen: { ...report.firstSeen }, samples: [...report.samples] };
    if (latencies) copy.latenciesMs = [...latencies];
    return copy;
  };
  const run: LoadRun = {
    snapshot: finish,
    async stop() {
      running.delete(run);
      stopping = true;
      await Promise.all(loops);
      agent.destroy();
      return finish();
    },
  };
  running.add(run);
  return run;
}

/** Loads started and not stopped yet. */
const running = new Set<LoadRun>();

/**
 * Stops every load still running: for a test file's end, where a test that failed before its own
 * `stop()` would otherwise leave request loops that keep jest from exiting.
 */
export async function stopAllLoads(): Promise<number> {
  const left = [...running];
  await Promise.all(left.map((run) => run.stop()));
  return left.length;
}

/** Several load runs summed: requests sent, those a deploy lost (errors + non-2xx), and a few samples of what went wrong. */
export function loadTotals(reports: readonly LoadReport[]): { sent: number; failed: number; samples: string[] } {
  return {
    sent: reports.reduce((n, r) => n + r.sent, 0),
    failed: reports.reduce((n, r) => n + r.errors + r.non2xx, 0),
    samples: reports.flatMap((r) => r.samples),
  };
}

/** One GET that resolves with status, version header and body; for long requests and probes. */
export function httpGet(url: string, timeoutMs = 60_000): Promise<{ status: number; version: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, version: String(res.headers['x-app-version'] ?? ''), body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no response from ${url} within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
