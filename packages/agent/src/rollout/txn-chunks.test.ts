import { chunksOf, MAX_OPS_PER_TXN } from './txn-chunks';

const prefix = '/gantry/v1/projects/p/rollouts/web/';
const hostKeys = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `/gantry/v1/projects/p/hosts/h${i}/desired/web` }));

describe('rollout step chunks', () => {
  it('keeps a step that fits in one transaction whole', () => {
    const writes = [...hostKeys(10), { key: `${prefix}state`, value: '{}' }];
    expect(chunksOf(writes, prefix)).toEqual([writes]);
  });

  it("splits a large step under etcd's limit, the rollout's own records last", () => {
    const records = [{ key: `${prefix}history/r1`, value: '{}' }, { key: `${prefix}state` }, { key: `${prefix}request` }];
    const chunks = chunksOf([...hostKeys(250), ...records], prefix);
    expect(chunks.map((c) => c.length)).toEqual([MAX_OPS_PER_TXN, MAX_OPS_PER_TXN, 50, 3]);
    expect(chunks[chunks.length - 1]).toEqual(records);
    expect(chunks.every((c) => c.length <= 128)).toBe(true);
  });

  it('puts deletes of old history entries with the other keys, so the records chunk stays small', () => {
    const old = Array.from({ length: 150 }, (_, i) => ({ key: `${prefix}history/old${i}` }));
    const records = [{ key: `${prefix}history/r1`, value: '{}' }, { key: `${prefix}state` }, { key: `${prefix}request` }];
    const chunks = chunksOf([...hostKeys(20), ...old, ...records], prefix);
    expect(chunks[chunks.length - 1]).toEqual(records);
    expect(chunks.every((c) => c.length <= MAX_OPS_PER_TXN)).toBe(true);
    expect(chunks.flat()).toHaveLength(173);
  });
});
