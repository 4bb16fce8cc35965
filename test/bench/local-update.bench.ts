/**
 * One host, one component: N zero-downtime updates alternating v1 and v2 under keep-alive load,
 * with per-phase timings, the orchestration overhead and the switch latency.
 *
 *   overhead = total − (create + start + ready) − time spent waiting for the drain
 *   switch latency = "new container ready" → first response served by it through HAProxy
 *
 * Run with `npm run bench` (BENCH_UPDATES=N for more rounds).
 */
import { updateComponent, type EngineEvent, type PhaseTimings, type UpdateSummary } from '@gantry/agent';
import { ensureDemoImages, startLoad } from '@gantry/testkit';
import { demoConfig } from '../support/demo-config';
import { localHost } from '../support/local-host';
import { fmt, median, percentile, printTable } from './stats';

const ROUNDS = Number(process.env.BENCH_UPDATES ?? 10);
const PORT = 80;

export async function benchLocalUpdate(): Promise<void> {
  await ensureDemoImages();
  const host = await localHost();
  const config = demoConfig(PORT, { drainTimeout: 10_000 });
  try {
    await updateComponent(host.deps, host.ctx, { config, component: 'web', tag: 'v1' });
    const summaries: UpdateSummary[] = [];
    const switchLatency: number[] = [];
    let failed = 0;
    let sent = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const tag = i % 2 === 0 ? 'v2' : 'v1';
      const load = startLoad({ url: host.url(PORT, '/'), connections: 8, rate: 300 });
      let readyAt = 0;
      const onEvent = (e: EngineEvent) => {
        if (e.type === 'ready') readyAt = Date.now();
      };
      const summary = await updateComponent(host.deps, host.ctx, { config, component: 'web', tag, onEvent });
      const report = await load.stop();
      summaries.push(summary);
      failed += report.errors + report.non2xx;
      sent += report.sent;
      if (report.firstSeen[tag] && readyAt) switchLatency.push(report.firstSeen[tag] - readyAt);
      process.stderr.write(`  update ${i + 1}/${ROUNDS} → ${tag}: ${fmt(summary.timings.total ?? 0)}, ${report.sent} requests, ${report.errors + report.non2xx} failed\n`);
    }

    const phases: Array<keyof PhaseTimings> = ['observe', 'proxy', 'image', 'create', 'start', 'ready', 'switch', 'drain', 'total'];
    printTable(
      `Local update, ${ROUNDS} rounds v1↔v2 under 300 req/s keep-alive load (ms)`,
      ['phase', 'median', 'p90', 'max'],
      phases.map((p) => {
        const values = summaries.map((s) => s.timings[p] ?? 0);
        return [p, fmt(median(values)), fmt(percentile(values, 90)), fmt(Math.max(...values))];
      }),
    );
    const overhead = summaries.map((s) => {
      const t = s.timings;
      const containerWork = (t.create ?? 0) + (t.start ?? 0) + (t.ready ?? 0);
      const drainWait = s.retired.reduce((max, r) => Math.max(max, r.waitedMs), 0);
      return (t.total ?? 0) - containerWork - drainWait;
    });
    const teardown = summaries.map((s) => (s.timings.drain ?? 0) - s.retired.reduce((max, r) => Math.max(max, r.waitedMs), 0));
    printTable('Derived figures', ['figure', 'median', 'p90', 'max'], [
      ['orchestration overhead', fmt(median(overhead)), fmt(percentile(overhead, 90)), fmt(Math.max(...overhead))],
      ['  of which old container stop+remove', fmt(median(teardown)), fmt(percentile(teardown, 90)), fmt(Math.max(...teardown))],
      ['ready → first request served', fmt(median(switchLatency)), fmt(percentile(switchLatency, 90)), fmt(Math.max(...switchLatency))],
    ]);
    console.log(`\nrequests during the updates: ${sent} sent, ${failed} failed`);
  } finally {
    await host.cleanup();
  }
}
