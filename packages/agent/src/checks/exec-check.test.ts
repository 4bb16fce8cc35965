import { checkSchema } from '@gantry/spec';
import { fakeTarget } from './check-test-servers';
import { checkExec, commandLine, outputTail, type ExecCheck } from './exec-check';

const execCheck = (command: string[]): ExecCheck => checkSchema.parse({ kind: 'exec', command }) as ExecCheck;

describe('checkExec', () => {
  it('passes on exit 0 and passes the command and timeout to the target', async () => {
    const calls: [string[], number][] = [];
    const target = fakeTarget({
      exec: async (command, timeoutMs) => {
        calls.push([command, timeoutMs]);
        return { exitCode: 0, output: 'accepting connections\n' };
      },
    });
    expect(await checkExec(execCheck(['pg_isready', '-U', 'app']), target, { timeoutMs: 3000 })).toEqual({
      ok: true,
      detail: 'exec pg_isready -U app → exit 0: accepting connections',
    });
    expect(calls).toEqual([[['pg_isready', '-U', 'app'], 3000]]);
  });

  it('fails on another exit code, quoting the last 200 characters of output', async () => {
    const output = `${'a'.repeat(500)}\nthe end of it`;
    const outcome = await checkExec(execCheck(['sh', '-c', 'exit 2']), fakeTarget({ exec: async () => ({ exitCode: 2, output }) }), { timeoutMs: 3000 });
    expect(outcome.ok).toBe(false);
    expect(outcome.detail).toBe(`exec sh -c "exit 2" → exit 2: …${'a'.repeat(186)} the end of it`);
  });

  it('fails with the error when exec itself fails', async () => {
    const target = fakeTarget({ exec: () => Promise.reject(new Error('container is not running')) });
    expect(await checkExec(execCheck(['true']), target, { timeoutMs: 3000 })).toEqual({ ok: false, detail: 'exec true → container is not running' });
  });

  it('fails after the timeout when the target does not return', async () => {
    const target = fakeTarget({ exec: () => new Promise(() => undefined) });
    const started = performance.now();
    expect(await checkExec(execCheck(['sleep', '60']), target, { timeoutMs: 50 })).toEqual({ ok: false, detail: 'exec sleep 60 → timed out after 50 ms' });
    expect(performance.now() - started).toBeLessThan(250);
  });
});

describe('outputTail', () => {
  it('keeps short output whole, on one line', () => {
    expect(outputTail('  one\ntwo\n\n')).toBe('one two');
    expect(outputTail('')).toBe('');
  });
});

describe('commandLine', () => {
  it('quotes only arguments that need it', () => {
    expect(commandLine(['curl', '-f', 'http://localhost:80/x?a=b c'])).toBe('curl -f "http://localhost:80/x?a=b c"');
  });
});
