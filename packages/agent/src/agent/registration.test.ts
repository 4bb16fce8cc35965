import { describeHolder, EXIT_HOST_ALREADY_RUNNING, HostAlreadyRunningError } from './registration';

const existing = (value: string) => ({ value, leaseId: '694d9a1b2c3d4e5f', createRevision: '10', modRevision: '12' });

describe('a refused registration', () => {
  const registration = { hostId: 'h1', address: '127.0.1.1', labels: {}, agentVersion: '0.1.0', startedAt: '2026-11-22T05:00:00.000Z', pid: 4242, hostname: 'web-1' };

  it('names the host, the key and where the holder runs', () => {
    const err = new HostAlreadyRunningError('h1', '/gantry/v1/projects/p/hosts/h1/registration', existing(JSON.stringify(registration)));
    expect(err.message).toBe(
      'host h1 is already running: another gantryd holds its registration /gantry/v1/projects/p/hosts/h1/registration (address 127.0.1.1, pid 4242, hostname web-1, started at 2026-11-22T05:00:00.000Z, version 0.1.0; lease 694d9a1b2c3d4e5f)',
    );
    expect(err.exitCode).toBe(EXIT_HOST_ALREADY_RUNNING);
    expect(err.holder).toMatchObject({ pid: 4242, address: '127.0.1.1' });
  });

  it('still says what it can of a registration that is invalid or not JSON', () => {
    expect(describeHolder(existing(JSON.stringify({ address: 'x', pid: 'nope' })))).toBe('address x, pid nope, hostname ?, started at ?');
    expect(describeHolder(existing('{"addr'))).toBe('an unreadable registration ("{\\"addr")');
    expect(new HostAlreadyRunningError('h1', 'k', existing('null')).holder).toEqual({});
  });
});
