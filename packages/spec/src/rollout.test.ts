import { batchCount, parseBatchSize, parseHostSelector, rolloutPolicySchema, selectsHost } from './rollout';

describe('rollout policy', () => {
  it('parses batch sizes as counts or percentages, and sizes batches', () => {
    expect(parseBatchSize('2')).toEqual({ count: 2 });
    expect(parseBatchSize('25%')).toEqual({ percent: 25 });
    expect(['0', '-1', '0%', '101%', 'two', '']).toEqual(['0', '-1', '0%', '101%', 'two', ''].filter((t) => parseBatchSize(t) === undefined));
    expect(batchCount({ count: 2 }, 5)).toBe(2);
    expect(batchCount({ percent: 25 }, 5)).toBe(2);
    expect(batchCount({ percent: 1 }, 5)).toBe(1);
  });

  it('selects hosts by id or by labels', () => {
    const h = { hostId: 'h1', labels: { zone: 'a', tier: 'web' } };
    expect(selectsHost(parseHostSelector('all')!, h)).toBe(true);
    expect(selectsHost(parseHostSelector('h1,h2')!, h)).toBe(true);
    expect(selectsHost(parseHostSelector('h2')!, h)).toBe(false);
    expect(selectsHost(parseHostSelector('zone=a,tier=web')!, h)).toBe(true);
    expect(selectsHost(parseHostSelector('zone=b')!, h)).toBe(false);
    expect(parseHostSelector('zone=a,h1')).toBeUndefined();
  });

  it('fills in defaults a user would expect', () => {
    expect(rolloutPolicySchema.parse({})).toEqual({ batch: { count: 1 }, canary: 0, minReadySeconds: 0, progressDeadlineSeconds: 600, autoRollback: false, hosts: { all: true }, onHostLost: 'fail' });
  });

  it('reads a policy stored before onHostLost existed as fail', () => {
    expect(rolloutPolicySchema.parse({ batch: { count: 2 } }).onHostLost).toBe('fail');
    expect(rolloutPolicySchema.parse({ onHostLost: 'skip' }).onHostLost).toBe('skip');
    expect(rolloutPolicySchema.safeParse({ onHostLost: 'ignore' }).success).toBe(false);
  });
});
