import { DemuxCollector, demuxDockerOutput } from './docker-stream';

const frame = (type: number, text: string) => {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
};

describe('docker output demux', () => {
  it('interleaves stdout and stderr in order', () => {
    expect(demuxDockerOutput(Buffer.concat([frame(1, 'out1\n'), frame(2, 'err1\n'), frame(1, 'out2\n')]))).toBe('out1\nerr1\nout2\n');
  });

  it('reassembles frames split across chunks', () => {
    const all = Buffer.concat([frame(1, 'hello '), frame(2, 'world')]);
    const c = new DemuxCollector();
    for (let i = 0; i < all.length; i += 3) c.push(all.subarray(i, i + 3));
    expect(c.text()).toBe('hello world');
  });

  it('passes unframed (TTY) output through', () => {
    expect(demuxDockerOutput(Buffer.from('plain text output\n'))).toBe('plain text output\n');
    expect(demuxDockerOutput(Buffer.from('hi'))).toBe('hi');
  });

  it('keeps only the last maxBytes', () => {
    const c = new DemuxCollector(10);
    c.push(frame(1, '0123456789'));
    c.push(frame(1, 'abcde'));
    expect(c.text()).toBe('[…output truncated to the last 10 bytes]\n56789abcde');
  });
});
