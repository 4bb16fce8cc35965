import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveHostPath } from './resolve-host-path';

describe('resolveHostPath, on a real file system', () => {
  let dir: string;
  beforeAll(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'gantry-resolve-')));
    mkdirSync(join(dir, 'real/sub'), { recursive: true });
    symlinkSync('/', join(dir, 'root-link'));
    symlinkSync(join(dir, 'real/sub'), join(dir, 'sub-link'));
    symlinkSync('loop-b', join(dir, 'loop-a'));
    symlinkSync('loop-a', join(dir, 'loop-b'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('follows a link to /: a bind of it is a bind of /', () => {
    expect(resolveHostPath(join(dir, 'root-link'))).toBe('/');
    expect(resolveHostPath(join(dir, 'root-link/etc/passwd'))).toBe('/etc/passwd');
  });

  it('appends what does not exist yet to its longest existing ancestor, resolved', () => {
    expect(resolveHostPath(join(dir, 'sub-link/new/deeper'))).toBe(join(dir, 'real/sub/new/deeper'));
    expect(resolveHostPath(join(dir, 'root-link/no-such-dir-here/x'))).toBe('/no-such-dir-here/x');
  });

  // Built as strings: path.join would fold the ".." away lexically, which is the mistake under test.
  it('climbs ".." from where a link leads, as the kernel does', () => {
    expect(resolveHostPath(`${dir}/sub-link/../../real`)).toBe(join(dir, 'real'));
    expect(resolveHostPath(`${dir}/root-link/../etc`)).toBe('/etc');
  });

  it('stops at a link loop and judges the rest as written', () => {
    expect(resolveHostPath(join(dir, 'loop-a/x'))).toBe(join(dir, 'loop-a/x'));
  });
});
