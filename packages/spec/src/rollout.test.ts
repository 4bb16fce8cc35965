import { assignBatches, batchCount, parseBatchSize, parseHostSelector, rolloutPolicySchema, selectsHost } from './rollout';

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
    expect(rolloutPolicySchema.parse({})).toEqual({ batch: { count: 1 }, canary: 0, minReadySeconds: 0, progressDeadlineSeconds: 600, autoRollback: false, hosts: { all: true }, onHostLost: 'fail', preflight: true });
  });

  it('reads a policy stored before onHostLost existed as fail', () => {
    expect(rolloutPolicySchema.parse({ batch: { count: 2 } }).onHostLost).toBe('fail');
    expect(rolloutPolicySchema.parse({ onHostLost: 'skip' }).onHostLost).toBe('skip');
    expect(rolloutPolicySchema.safeParse({ onHostLost: 'ignore' }).success).toBe(false);
  });
});

describe('assignBatches', () => {
  it('cuts the canary hosts into batch 0 and the rest into batches of the batch size', () => {
    expect(assignBatches(['a', 'b', 'c', 'd', 'e'], { canary: 1, batch: { count: 2 } })).toEqual({
      hosts: [
        { id: 'a', batch: 0 },
        { id: 'b', batch: 1 },
        { id: 'c', batch: 1 },
        { id: 'd', batch: 2 },
        { id: 'e', batch: 2 },
      ],
      batches: 3,
    });
  });
  it('without a canary, batch 0 is the first batch; a percentage counts the selected hosts', () => {
    expect(assignBatches(['a', 'b', 'c'], { canary: 0, batch: { percent: 50 } })).toEqual({ hosts: [{ id: 'a', batch: 0 }, { id: 'b', batch: 0 }, { id: 'c', batch: 1 }], batches: 2 });
  });
  it('no host: no batch', () => {
    expect(assignBatches([], { canary: 2, batch: { count: 1 } })).toEqual({ hosts: [], batches: 0 });
  });
});
