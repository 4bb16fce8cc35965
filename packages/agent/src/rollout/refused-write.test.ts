import { refusedWrite } from './refused-write';

describe('refusedWrite', () => {
  const chunk = [
    { key: '/p/rollouts/web/request' },
    { key: '/p/rollouts/web/history/r1', value: 'x'.repeat(5_000) },
    { key: '/p/hosts/h1/desired/web', value: '{"version":"v2"}' },
  ];

  it('names the largest value of a write refused as too large, with sizes and the limit to look at', () => {
    const p = refusedWrite('rollout r1 of web', chunk, new Error('3 INVALID_ARGUMENT: etcdserver: request is too large'));
    expect(p.key).toBe('/p/rollouts/web/history/r1');
    expect(p.reason).toMatch(/^etcd refused the coordinator's write for rollout r1 of web as too large \(3 key\(s\), 50\d\d bytes, this key 50\d\d; etcd's --max-request-bytes, 1\.5 MiB by default\): 3 INVALID_ARGUMENT: etcdserver: request is too large; retrying$/);
  });

  it("gives etcd's words for any other refusal", () => {
    const p = refusedWrite('stale prepull keys', [{ key: '/p/hosts/h1/prepull/web' }], new Error('etcdserver: permission denied'));
    expect(p).toEqual({ key: '/p/hosts/h1/prepull/web', reason: "etcd refused the coordinator's write for stale prepull keys (1 key(s)): etcdserver: permission denied; retrying" });
  });
});
