import { errorDetail } from './error-detail';

describe('errorDetail', () => {
  it('prefers "syscall CODE", then the code, then the message', () => {
    expect(errorDetail(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', syscall: 'connect' }))).toBe('connect ECONNREFUSED');
    expect(errorDetail(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe('ECONNRESET (socket hang up)');
    expect(errorDetail(Object.assign(new Error('EPIPE'), { code: 'EPIPE' }))).toBe('EPIPE');
    expect(errorDetail(new Error('container gone'))).toBe('container gone');
    expect(errorDetail('plain string')).toBe('plain string');
  });
});
