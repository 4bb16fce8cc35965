import { createOnlyDecision } from './lease-keeper';

describe('a create-only write (LeaseKeeper.putIfAbsent)', () => {
  const ours = new Set(['7587884330190962000', '7587884330190962011']);

  it('creates an absent key', () => {
    expect(createOnlyDecision(undefined, ours)).toBe('create');
  });

  it('moves its own key from an earlier lease of this keeper (etcd revived it, or only our timer lost it)', () => {
    expect(createOnlyDecision({ leaseId: '7587884330190962000' }, ours)).toBe('claim');
    expect(createOnlyDecision({ leaseId: '7587884330190962011' }, ours)).toBe('claim');
  });

  it('takes a key bound to no lease: no one alive holds it (a value written by hand)', () => {
    expect(createOnlyDecision({ leaseId: '0' }, ours)).toBe('claim');
    expect(createOnlyDecision({ leaseId: '0' }, new Set())).toBe('claim');
  });

  it('leaves alone a key under another lease', () => {
    expect(createOnlyDecision({ leaseId: '7587884330190962999' }, ours)).toBe('conflict');
    expect(createOnlyDecision({ leaseId: '7587884330190962000' }, new Set())).toBe('conflict');
  });
});
