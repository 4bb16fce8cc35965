import { EngineError } from './errors';
import { ERROR_TEXT_MAX_BYTES, redactedError } from './redact-error';

describe('redactedError', () => {
  it('replaces known secrets in the message and the logs, and keeps code and cause', () => {
    const cause = new Error('docker said s3cret-pw');
    const err = redactedError(new EngineError('not-ready', 'container exited: DB_PASSWORD=s3cret-pw', { logs: 'connecting with s3cret-pw\nfailed' }, { cause }), ['s3cret-pw']);
    expect(err.message).toBe('container exited: DB_PASSWORD=***');
    expect(err.details.logs).toBe('connecting with ***\nfailed');
    expect(err.code).toBe('not-ready');
    expect(err.cause).toBe(cause);
  });

  it('cuts long log text to its head and its tail, after redacting (a secret is never half cut)', () => {
    const long = `start s3cret-pw ${'x'.repeat(20_000)} end s3cret-pw`;
    const err = redactedError(new Error(long), ['s3cret-pw']);
    expect(Buffer.byteLength(err.message)).toBeLessThanOrEqual(ERROR_TEXT_MAX_BYTES);
    expect(err.message).not.toContain('s3cret');
    expect(err.message).toMatch(/^update: start \*\*\* x+ … \(truncated, \d+ bytes\) … x+ end \*\*\*$/);
  });
});
