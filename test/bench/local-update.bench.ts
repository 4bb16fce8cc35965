/**
 * One host, one component: N zero-downtime updates alternating v1 and v2 under keep-alive load,
 * with per-phase timings, the orchestration overhead and the switch latency.
 *
 *   overhead = total − (create + start + ready) − time spent waiting for the drain
 *   switch latency = "new container ready" → first response served by it through HAProxy
 *   teardown = the old container's stop + removal, in the background once it is drained (the
 *              update is done before it: "drained is done"), from its teardown-done event
 *
 * Run with `npm run bench` (BENCH_UPDATES=N for more rounds; BENCH_LOCAL_TEARDOWN=inline: each
 * update waits for its own teardown, as before "drained is done", the teardown then in its total).
 */
import { ContainerTeardowns, updateComponent, type EngineEvent, type PhaseTimings, type UpdateSummary } from '@gantry/agent';
import { ensureDemoImages, startLoad } from '@gantry/testkit';
import { demoConfig } from '../support/demo-config';
import { localHost } from '../support/local-host';
import { fmt, median, percentile, printTable } from './stats';

const ROUNDS = Number(process.env.BENCH_UPDATES ?? 10);
const INLINE_TEARDOWN = process.env.BENCH_LOCAL_TEARDOWN === 'inline';
const PORT = 80;

export async function benchLocalUpdate(): Promise<void> {
  await ensureDemoImages();
  const host = await localHost();
  const config = demoConfig(PORT, { drainTimeout: 10_000 });
  // The host's teardowns, as gantryd and `gantry local` have them: the old container's stop goes on
  // beside the next round.
  const teardown = new ContainerTeardowns(host.deps.runtime);
  const deps = INLINE_TEARDOWN ? host.deps : { ...host.deps, teardown };
  const teardownMs: number[] = [];
  try {
    await updateComponent(deps, host.ctx, { config, component: 'web', tag: 'v1' });
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
        if (e.type === 'teardown-done' && !INLINE_TEARDOWN) teardownMs.push(e.elapsedMs);
      };
      const summary = await updateComponent(deps, host.ctx, { config, component: 'web', tag, onEvent });
      const report = await load.stop();
      // Not in the update's figures (it returned before): the next round starts on a quiet dockerd,
      // as a host's next update usually does, instead of beside this round's stop and removal.
      await teardown.settled();
      if (INLINE_TEARDOWN) teardownMs.push(summary.timings.teardown ?? 0);
      summaries.push(summary);
      failed += report.errors + report.non2xx;
      sent += report.sent;
      if (report.firstSeen[tag] && readyAt) switchLatency.push(report.firstSeen[tag] - readyAt);
      process.stderr.write(`  update ${i + 1}/${ROUNDS} → ${tag}: ${fmt(summary.timings.total ?? 0)}, ${report.sent} requests, ${report.errors + report.non2xx} failed\n`);
    }

    const phases: Array<keyof PhaseTimings> = ['observe', 'proxy', 'image', 'create', 'start', 'ready', 'switch', 'drain', ...(INLINE_TEARDOWN ? (['teardown'] as const) : []), 'total'];
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
    await teardown.settled();
    printTable('Derived figures', ['figure', 'median', 'p90', 'max'], [
      ['orchestration overhead', fmt(median(overhead)), fmt(percentile(overhead, 90)), fmt(Math.max(...overhead))],
      [`old container teardown (${INLINE_TEARDOWN ? 'inline: in total and overhead' : 'background, not in total'})`, fmt(median(teardownMs)), fmt(percentile(teardownMs, 90)), fmt(Math.max(...teardownMs))],
      ['ready → first request served', fmt(median(switchLatency)), fmt(percentile(switchLatency, 90)), fmt(Math.max(...switchLatency))],
    ]);
    console.log(`\nrequests during the updates: ${sent} sent, ${failed} failed`);
  } finally {
    await host.cleanup();
  }
}
