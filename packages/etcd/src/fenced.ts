import type { IOperation, IRequestOp, ITxnResponse, Namespace } from 'etcd3';
import { DEFAULT_CALL_TIMEOUT_MS, deadlineIn } from './client';

/**
 * What must still hold for a leader-only write: the election key still has our value, or is still
 * held under our lease (etcd3's Election writes its leader key under the campaign's lease).
 */
export type Fence = { electionKey: string; leaderValue: string } | { electionKey: string; leaseId: string };

/** An operation of the transaction: a builder such as `client.put(k).value(v)` or `client.delete().key(k)`, or a raw request op. */
export type FencedOp = IOperation | IRequestOp;

/**
 * Commits `ops` in one transaction only if the fence still holds — i.e. we are still the leader.
 * Resolves `true` if it committed (every op applied, atomically), `false` if the fence failed (nothing
 * applied; a missing election key fails it too). Rejects only if etcd could not be asked
 * (unreachable, deadline passed) — then whether it applied is unknown, as with any failed write.
 */
export async function fencedWrite(client: Namespace, fence: Fence, ops: FencedOp[], opts: { callTimeoutMs?: number } = {}): Promise<boolean> {
  return (await fencedCommit(client, fence, ops, opts)).succeeded;
}

/** {@link fencedWrite}, with the revision the transaction committed at (the mod revision of every key it wrote). */
export async function fencedCommit(client: Namespace, fence: Fence, ops: FencedOp[], opts: { callTimeoutMs?: number } = {}): Promise<{ succeeded: boolean; revision: number }> {
  if (ops.length === 0) throw new RangeError('fencedWrite needs at least one operation');
  const guard =
    'leaderValue' in fence
      ? client.if(fence.electionKey, 'Value', '==', fence.leaderValue)
      : // etcd compares a missing key's lease as 0; also requiring the key to exist makes that explicit.
        client.if(fence.electionKey, 'Lease', '==', fence.leaseId).and(fence.electionKey, 'Create', '>', 0);
  const res: ITxnResponse = await guard
    .then(...ops)
    .options(deadlineIn(opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS))
    .commit();
  return { succeeded: res.succeeded, revision: Number(res.header.revision) };
}
