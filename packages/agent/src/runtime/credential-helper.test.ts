import { getFromHelper, interpretHelperOutcome, type HelperContext, type HelperOutcome } from './credential-helper';

const ctx: HelperContext = { helper: 'gantrytest', registry: '127.0.0.1:5001', setting: 'credHelpers["127.0.0.1:5001"] in /cfg/config.json', timeoutMs: 5000 };
const who = 'credential helper docker-credential-gantrytest (credHelpers["127.0.0.1:5001"] in /cfg/config.json)';
const exited = (code: number, stdout: string, stderr = ''): HelperOutcome => ({ kind: 'exited', code, stdout, stderr });

describe('interpretHelperOutcome', () => {
  it('reads a username and secret', () => {
    expect(interpretHelperOutcome(exited(0, '{"ServerURL":"127.0.0.1:5001","Username":"gantry","Secret":"pw"}\n'), ctx)).toEqual({
      kind: 'credentials',
      username: 'gantry',
      password: 'pw',
    });
  });

  it('reads Username "<token>" as an identity token', () => {
    expect(interpretHelperOutcome(exited(0, '{"Username":"<token>","Secret":"tok"}'), ctx)).toEqual({ kind: 'credentials', identitytoken: 'tok' });
  });

  it('takes "credentials not found" (on stdout or stderr) and an empty answer as no login', () => {
    expect(interpretHelperOutcome(exited(1, 'credentials not found in native keychain\n'), ctx)).toEqual({ kind: 'not-found' });
    expect(interpretHelperOutcome(exited(1, '', 'credentials not found in native keychain'), ctx)).toEqual({ kind: 'not-found' });
    expect(interpretHelperOutcome(exited(0, '{"Username":"","Secret":""}'), ctx)).toEqual({ kind: 'not-found' });
  });

  it('names the helper, its setting and the registry in every failure', () => {
    expect(() => interpretHelperOutcome({ kind: 'missing' }, ctx)).toThrow(`${who} is not on PATH: cannot get credentials for registry 127.0.0.1:5001`);
    expect(() => interpretHelperOutcome({ kind: 'timed-out' }, ctx)).toThrow(`${who} did not answer within 5000 ms for registry 127.0.0.1:5001`);
    expect(() => interpretHelperOutcome({ kind: 'failed', message: 'EACCES' }, ctx)).toThrow(`${who} could not be run for registry 127.0.0.1:5001: EACCES`);
    expect(() => interpretHelperOutcome(exited(3, 'vault sealed\n'), ctx)).toThrow(`${who} failed for registry 127.0.0.1:5001 (exit 3): vault sealed`);
    expect(() => interpretHelperOutcome(exited(3, ''), ctx)).toThrow(new RegExp(`\\(exit 3\\)$`));
  });

  it('never quotes what a successful run printed: it may hold the secret', () => {
    const broken = () => interpretHelperOutcome(exited(0, 'Secret: hunter2'), ctx);
    expect(broken).toThrow(`${who} printed no valid JSON for registry 127.0.0.1:5001 (expected {"ServerURL", "Username", "Secret"})`);
    expect(broken).not.toThrow(/hunter2/);
    const shapeless = () => interpretHelperOutcome(exited(0, '{"Username":"u","Secret":42}'), ctx);
    expect(shapeless).toThrow(`${who} printed JSON without string "Username" and "Secret"`);
    expect(() => interpretHelperOutcome(exited(0, 'null'), ctx)).toThrow(/printed JSON without/);
  });

  it('cuts a long failure message short', () => {
    const message = (() => {
      try {
        interpretHelperOutcome(exited(1, 'x'.repeat(5000)), ctx);
      } catch (err) {
        return (err as Error).message;
      }
    })();
    expect(message!.length).toBeLessThan(600);
    expect(message!.endsWith('…')).toBe(true);
  });
});

describe('getFromHelper', () => {
  it('runs docker-credential-NAME with the server address on stdin, within the deadline', async () => {
    const run = jest.fn(async () => exited(0, '{"Username":"gantry","Secret":"pw"}'));
    await expect(getFromHelper('127.0.0.1:5001', ctx, { run })).resolves.toEqual({ kind: 'credentials', username: 'gantry', password: 'pw' });
    expect(run).toHaveBeenCalledWith('docker-credential-gantrytest', '127.0.0.1:5001', { timeoutMs: 5000, signal: undefined });
  });

  it('refuses a name that is a path or an option, before running anything', async () => {
    const run = jest.fn(async () => exited(0, '{}'));
    for (const helper of ['../../bin/sh', '-x', '', 'a b']) {
      await expect(getFromHelper('quay.io', { ...ctx, helper }, { run })).rejects.toThrow(/credential helper name .* is not valid/);
    }
    expect(run).not.toHaveBeenCalled();
  });
});
