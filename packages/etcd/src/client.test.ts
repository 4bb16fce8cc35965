import { Metadata } from '@grpc/grpc-js';
import { connectEtcd, deadlineIn, REQUIRE_LEADER_KEY, withRequireLeader } from './client';
import type { EtcdConnectionOptions } from './connection-options';

const opts = (endpoints: string[]): EtcdConnectionOptions => ({ endpoints, sources: {} }) as unknown as EtcdConnectionOptions;

describe('deadlineIn', () => {
  it('gives each resolution of the options (one per attempt) a fresh deadline', async () => {
    const options = deadlineIn(1000);
    const first = { ...options }.deadline.getTime();
    await new Promise((r) => setTimeout(r, 20));
    const second = { ...{ deadline: new Date(0) }, ...options }.deadline.getTime(); // as etcd3 merges defaults and call options
    expect(second - first).toBeGreaterThanOrEqual(15);
    expect(second).toBeGreaterThan(Date.now() + 900);
  });
});

describe('withRequireLeader', () => {
  it('sets hasleader=true on a copy, leaving the shared metadata alone', () => {
    const shared = new Metadata();
    shared.set('token', 'secret');
    const copy = withRequireLeader(shared);
    expect(copy.get(REQUIRE_LEADER_KEY)).toEqual(['true']);
    expect(copy.get('token')).toEqual(['secret']);
    expect(shared.get(REQUIRE_LEADER_KEY)).toEqual([]);
  });
});

describe('connectEtcd require-leader', () => {
  // withConnection hands each call the metadata it is sent with; no call is made (the fn returns at once).
  const metadataFor = async (service: string) => {
    const client = connectEtcd(opts(['127.0.0.1:1', '127.0.0.1:2']));
    try {
      const pool = (client as unknown as { pool: { withConnection: (s: string, fn: (a: { metadata: Metadata }) => unknown) => Promise<Metadata> } }).pool;
      return await pool.withConnection(service, ({ metadata }) => metadata);
    } finally {
      client.close();
    }
  };

  it('asks for a leader on Watch and Lease calls only', async () => {
    expect((await metadataFor('Watch')).get(REQUIRE_LEADER_KEY)).toEqual(['true']);
    expect((await metadataFor('Lease')).get(REQUIRE_LEADER_KEY)).toEqual(['true']);
    expect((await metadataFor('KV')).get(REQUIRE_LEADER_KEY)).toEqual([]);
  });
});
