import { comparisonLine, peerFigures, ratio, type PeerRun } from './peer-comparison';

const run = (over: Partial<PeerRun>): PeerRun => ({ peer: 'Gantry', sent: 1000, failed: 0, latenciesMs: [1, 2, 3], wallMs: [600, 620, 640], toNewVersionMs: [400, 410, 420], ...over });

describe('peerFigures', () => {
  it('sums into per-1000 failures, p99 and max latency and median wall time', () => {
    const latenciesMs = Array.from({ length: 200 }, (_, i) => i + 1); // 1..200 ms
    const f = peerFigures(run({ peer: 'naive', sent: 2000, failed: 50, latenciesMs, wallMs: [300, 100, 200] }));
    expect(f).toMatchObject({ peer: 'naive', updates: 3, sent: 2000, failed: 50, failedPerThousand: 25, p99Ms: 198, maxMs: 200, wallMedianMs: 200, toNewVersionMedianMs: 410 });
  });

  it('has no latency figures when no request succeeded, and no rate when none was sent', () => {
    const f = peerFigures(run({ sent: 0, latenciesMs: [] }));
    expect(f.p99Ms).toBeNaN();
    expect(f.maxMs).toBeNaN();
    expect(f.failedPerThousand).toBeNaN();
  });
});

describe('ratio', () => {
  it('prints one decimal below 10× and none above', () => {
    expect(ratio(41, 10)).toBe('4.1×');
    expect(ratio(370, 10)).toBe('37×');
    expect(ratio(5, 10)).toBe('0.5×');
  });

  it('has no ratio against a zero baseline', () => {
    expect(ratio(12, 0)).toBe('n/a (Gantry 0)');
    expect(ratio(0, 0)).toBe('same (both 0)');
    expect(ratio(3, 0, 'naive')).toBe('n/a (naive 0)');
    expect(ratio(NaN, 1)).toBe('-');
  });
});

describe('comparisonLine', () => {
  const gantry = peerFigures(run({}));

  it('counts failures per 1000 when Gantry failed none', () => {
    const line = comparisonLine(peerFigures(run({ peer: 'naive', failed: 37, latenciesMs: [4, 8, 12] })), gantry);
    expect(line).toMatch(/^naive: 37 failed requests \(37\.0 per 1000\) where Gantry failed none; /);
    expect(line).toContain("p99 latency 4.0× Gantry's (12.0 ms vs 3.0 ms)");
    expect(line).toContain('wall time per update 1.0× (620.0 ms vs 620.0 ms)');
  });

  it('says so when the peer failed none either', () => {
    expect(comparisonLine(peerFigures(run({ peer: 'reload' })), gantry)).toMatch(/^reload: 0 failed requests, like Gantry; /);
  });

  it('compares failure rates when both failed some', () => {
    const base = peerFigures(run({ failed: 2 }));
    const line = comparisonLine(peerFigures(run({ peer: 'naive', sent: 2000, failed: 40 })), base);
    expect(line).toMatch(/^naive: 10× the failure rate of Gantry \(20\.0 vs 2\.0 per 1000\); /);
  });
});
