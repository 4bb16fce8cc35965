import { establishedTo } from './tcp-connections';

// Lines as the kernel writes them (trailing fields cut): 127.0.0.1:37090 → 127.0.0.1:49153 etc.
const TABLE = [
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
  '   0: 0100007F:C001 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111',
  '   1: 0100007F:90E2 0100007F:C001 01 00000000:00000000 00:00000000 00000000     0        0 2222',
  '   2: 0100007F:90E3 0100007F:C001 01 00000000:00000000 00:00000000 00000000     0        0 3333',
  '   3: 0100007F:C001 0100007F:90E2 01 00000000:00000000 00:00000000 00000000     0        0 4444',
  '   4: 0100007F:90E4 0100007F:C001 06 00000000:00000000 00:00000000 00000000     0        0 5555',
  '   5: 0100007F:90E5 0100007F:C002 01 00000000:00000000 00:00000000 00000000     0        0 6666',
  '',
].join('\n');

describe('establishedTo', () => {
  it('counts ESTABLISHED connections whose remote port is the one asked for', () => {
    expect(establishedTo(TABLE, 0xc001)).toBe(2);
    expect(establishedTo(TABLE, 0xc002)).toBe(1);
  });

  it('ignores the listener, TIME_WAIT and the accepting side (local port = the port)', () => {
    expect(establishedTo(TABLE, 0x90e2)).toBe(1); // line 3 only: its remote end is 0x90E2
    expect(establishedTo(TABLE, 0xc003)).toBe(0);
  });

  it('reads an empty table (header only) as no connections', () => {
    expect(establishedTo(TABLE.split('\n')[0], 0xc001)).toBe(0);
    expect(establishedTo('', 0xc001)).toBe(0);
  });
});
