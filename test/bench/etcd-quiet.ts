import type { Etcd3 } from 'etcd3';
import { waitFor } from '@gantry/testkit';

/**
 * Waits until etcd has applied what it committed (behind by more than 5,000 entries it refuses
 * writes: `too many requests`) and its store revision has not moved for `quietMs`: what was
 * under way (a fleet starting or stopping, an agent's last status details) has settled. Polled.
 */
export async function storeQuiet(etcd: Etcd3, quietMs: number, timeoutMs: number): Promise<void> {
  let last = '';
  let since = performance.now();
  await waitFor(
    async () => {
      const s = await etcd.maintenance.status();
      const behind = Number(s.raftIndex) - Number(s.raftAppliedIndex);
      if (s.header.revision !== last || behind > 10) [last, since] = [s.header.revision, performance.now()];
      return performance.now() - since >= quietMs;
    },
    { timeoutMs, intervalMs: 100, what: `etcd to apply what it committed and its revision to rest for ${quietMs} ms` },
  );
}
