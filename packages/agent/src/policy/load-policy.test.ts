import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultHostPolicy } from '@gantry/spec';
import { loadHostPolicy, PolicyFileError } from './load-policy';

describe('loadHostPolicy', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'gantry-policy-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('no file at the default path: the default policy, saying so', () => {
    expect(loadHostPolicy(join(dir, 'absent.json'))).toEqual({ policy: defaultHostPolicy(), source: `the default policy (no ${join(dir, 'absent.json')})` });
  });

  it('a file named with --policy must exist', () => {
    expect(() => loadHostPolicy(join(dir, 'absent.json'), { required: true })).toThrow(/cannot read the host policy .*absent\.json: ENOENT/);
  });

  it('reads a valid file', () => {
    const path = file('ok.json', JSON.stringify({ privileged: true, bindings: [{ path: '/srv' }] }));
    expect(loadHostPolicy(path)).toEqual({ policy: { ...defaultHostPolicy(), privileged: true, bindings: [{ path: '/srv', readOnly: true }] }, source: path });
  });

  it('an invalid file is an error naming the file and the field', () => {
    const path = file('bad.json', JSON.stringify({ bindings: [{ path: 'srv' }], priviledged: true }));
    const err = (() => {
      try {
        loadHostPolicy(path);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(PolicyFileError);
    expect(err!.message).toContain(path);
    expect(err!.message).toMatch(/bindings\[0\]\.path: must be an absolute path/);
    expect(err!.message).toMatch(/priviledged/);
    expect(() => loadHostPolicy(file('json.json', '{ nope'))).toThrow(/not valid JSON/);
  });

  it('an unreadable file is an error, not the default', () => {
    const denied = () => {
      throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    };
    expect(() => loadHostPolicy('/etc/gantry/policy.json', { readFile: denied })).toThrow('cannot read the host policy /etc/gantry/policy.json: EACCES (permission denied)');
    expect(() => loadHostPolicy(dir)).toThrow(/EISDIR/);
  });
});
