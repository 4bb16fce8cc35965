/**
 * Docker multiplexes a non-TTY container's stdout and stderr into frames: an 8-byte header
 * (stream type 0/1/2, three zero bytes, big-endian uint32 length) then the payload.
 */

/** Demuxes a complete buffer into text, stdout and stderr interleaved in order. Non-framed input passes through. */
export function demuxDockerOutput(data: Buffer): string {
  const collector = new DemuxCollector(Number.POSITIVE_INFINITY);
  collector.push(data);
  return collector.text();
}

/**
 * Collects multiplexed chunks as they arrive, keeping only the last `maxBytes` of payload so a
 * chatty command cannot exhaust memory. Falls back to raw passthrough when a header is invalid
 * (TTY streams are not framed).
 */
export class DemuxCollector {
  private pending: Buffer = Buffer.alloc(0);
  private readonly parts: Buffer[] = [];
  private size = 0;
  private raw = false;
  truncated = false;

  constructor(private readonly maxBytes = 64 * 1024) {}

  push(chunk: Buffer): void {
    if (this.raw) return this.keep(chunk);
    this.pending = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 8) {
      const type = this.pending[0];
      if (type > 2 || this.pending[1] !== 0 || this.pending[2] !== 0 || this.pending[3] !== 0) {
        this.raw = true;
        this.keep(this.pending);
        this.pending = Buffer.alloc(0);
        return;
      }
      const length = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + length) return;
      this.keep(this.pending.subarray(8, 8 + length));
      this.pending = this.pending.subarray(8 + length);
    }
  }

  /** Everything kept so far, as UTF-8. A short unframed remainder (TTY output) is included; a partial frame is not. */
  text(): string {
    const p = this.pending;
    const unframed = p.length > 0 && (p[0] > 2 || [1, 2, 3].some((i) => i < p.length && p[i] !== 0));
    const text = Buffer.concat(unframed ? [...this.parts, p] : this.parts).toString('utf8');
    return this.truncated ? `[…output truncated to the last ${this.maxBytes} bytes]\n${text}` : text;
  }

  private keep(payload: Buffer): void {
    if (payload.length === 0) return;
    this.parts.push(Buffer.from(payload));
    this.size += payload.length;
    while (this.size > this.maxBytes && this.parts.length > 0) {
      const excess = this.size - this.maxBytes;
      const first = this.parts[0];
      this.truncated = true;
      if (first.length <= excess) {
        this.parts.shift();
        this.size -= first.length;
      } else {
        this.parts[0] = first.subarray(excess);
        this.size -= excess;
      }
    }
  }
}
