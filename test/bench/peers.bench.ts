/**
 * Peers side by side: the same demo app under the same keep-alive load, updated N times v1↔v2
 * by Gantry, by a naive `docker stop` + `docker run` on the same port, and by an HAProxy config
 * rewrite + reload (Gantryd's way). Failed requests, p99 and max latency, wall time per update.
 *
 * Run with `BENCH=peers node .build/test/bench/main.js` (BENCH_PEER_UPDATES=N, default 5).
 */
import { ensureDemoImages, startLoad, waitFor, type LoadReport } from '@gantry/testkit';
import { fmt, printTable } from './stats';
import { gantryPeer } from './peers/gantry-peer';
import { haproxyReloadPeer } from './peers/haproxy-reload-peer';
import { naivePeer } from './peers/naive-peer';
import type { Peer } from './peers/peer';
import { comparisonLine, peerFigures, type PeerRun } from './peers/peer-comparison';

const UPDATES = Number(process.env.BENCH_PEER_UPDATES ?? 5);
const LOAD = { connections: 8, rate: 300 };
/** Requests answered before an update starts: every connection is open and warm. */
const WARM_REQUESTS = 50;
/**
 * Requests the new version must answer before the load stops: failures after a peer says it is
 * done (a naive `docker run` returns before the app listens) are counted too.
 */
const SETTLED_REQUESTS = 150;

async function measure(peer: Peer): Promise<PeerRun> {
  const run: PeerRun = { peer: peer.name, sent: 0, failed: 0, latenciesMs: [], wallMs: [], toNewVersionMs: [] };
  try {
    const url = await peer.start();
    for (let i = 0; i < UPDATES; i++) {
      const tag = i % 2 === 0 ? 'v2' : 'v1';
      const load = startLoad({ url, ...LOAD, recordLatencies: true });
      let report: LoadReport;
      try {
        await waitFor(() => load.snapshot().ok >= WARM_REQUESTS, { timeoutMs: 10_000, intervalMs: 10, what: `${WARM_REQUESTS} answers from ${url} before the update` });
        const startedAt = Date.now();
        await peer.update(tag);
        const wall = Date.now() - startedAt;
        await waitFor(() => (load.snapshot().byVersion[tag] ?? 0) >= SETTLED_REQUESTS, { timeoutMs: 30_000, intervalMs: 10, what: `${SETTLED_REQUESTS} answers from ${tag} at ${url}` });
        report = await load.stop();
        run.wallMs.push(wall);
        run.toNewVersionMs.push(report.firstSeen[tag] - startedAt);
      } catch (err) {
        await load.stop();
        throw err;
      }
      const failed = report.errors + report.non2xx;
      run.sent += report.sent;
      run.failed += failed;
      run.latenciesMs.push(...report.latenciesMs!);
      const sample = failed > 0 ? ` (e.g. ${report.samples[0]})` : '';
      process.stderr.write(`  ${peer.name} update ${i + 1}/${UPDATES} → ${tag}: ${fmt(run.wallMs[i])}, ${report.sent} requests, ${failed} failed${sample}\n`);
    }
    return run;
  } finally {
    await peer.cleanup();
  }
}

export async function benchPeers(): Promise<void> {
  await ensureDemoImages();
  const peers = [gantryPeer(), naivePeer(), haproxyReloadPeer()];
  const runs: PeerRun[] = [];
  // One after the other, so no peer's containers compete with another's for the two cores.
  for (const peer of peers) runs.push(await measure(peer));

  const figures = runs.map(peerFigures);
  const [gantry, ...others] = figures;
  const row = (name: string, cell: (f: (typeof figures)[number]) => string) => [name, ...figures.map(cell)];
  printTable(
    `Peers side by side: ${UPDATES} update${UPDATES === 1 ? '' : 's'} v1↔v2 each, same demo app, ${LOAD.rate} req/s keep-alive load over ${LOAD.connections} connections`,
    ['figure', ...figures.map((f) => f.peer)],
    [
      row('requests sent', (f) => String(f.sent)),
      row('failed (errors + non-2xx)', (f) => String(f.failed)),
      row('failed per 1000 requests', (f) => f.failedPerThousand.toFixed(1)),
      row('p99 latency (2xx)', (f) => fmt(f.p99Ms)),
      row('max latency (2xx)', (f) => fmt(f.maxMs)),
      row('wall time per update, median', (f) => fmt(f.wallMedianMs)),
      row('update start → new version serving, median', (f) => fmt(f.toNewVersionMedianMs)),
    ],
  );
  console.log('');
  for (const other of others) console.log(comparisonLine(other, gantry));
  for (const peer of peers) console.log(`  ${peer.name}: ${peer.how}`);
}
