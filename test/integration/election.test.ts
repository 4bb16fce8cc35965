/**
 * The coordinator election on the real etcd, in the case a multi-member client makes likely: a
 * campaign's transaction commits but its answer is lost (a deadline, then a retry elsewhere).
 */
import { randomBytes } from 'node:crypto';
import { Etcd3, GRPCDeadlineExceededError } from 'etcd3';
import winston from 'winston';
import { Election } from '@gantry/agent';
import { serviceEnv, waitFor } from '@gantry/testkit';

const quiet = winston.createLogger({ silent: true });

/** `etcd` whose first transaction commits and then "times out", as a lost answer does. */
function losingFirstAnswer(etcd: Etcd3): { client: Etcd3; lost: () => number } {
  let lost = 0;
  const client = new Proxy(etcd, {
    get(target, prop, receiver) {
      if (prop !== 'if') return Reflect.get(target, prop, receiver);
      return (...args: Parameters<Etcd3['if']>) => {
        const txn = target.if(...args);
        const commit = txn.commit.bind(txn);
        txn.commit = async () => {
          const res = await commit();
          if (lost++ === 0) throw new GRPCDeadlineExceededError('answer lost after commit (test)');
          return res;
        };
        return txn;
      };
    },
  });
  return { client, lost: () => lost };
}

test('a campaign whose transaction committed but whose answer was lost leads (the key under its own lease is its own)', async () => {
  const key = `/gantry-test/election-lost-${randomBytes(3).toString('hex')}/coordinator`;
  const etcd = new Etcd3({ hosts: serviceEnv().etcdEndpoints });
  const { client, lost } = losingFirstAnswer(etcd);
  const election = new Election({ etcd: client, key, hostId: 'a', leaseTtlS: 3, log: quiet });
  try {
    await election.start();
    await waitFor(() => election.isLeader(), { timeoutMs: 10_000, what: 'a to lead after its lost answer' });
    expect(lost()).toBeGreaterThanOrEqual(2); // the lost one, then the campaign again that found its own record
    expect(JSON.parse((await etcd.get(key).string())!).hostId).toBe('a');
    expect(election.leaderValue).toBe(await etcd.get(key).string());
  } finally {
    await election.stop();
    await etcd.delete().prefix(key);
    etcd.close();
  }
}, 30_000);
