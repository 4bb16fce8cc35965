import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { grantRange, readPasswordFile } from './access-admin';

describe('readPasswordFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-pw-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('reads the first line, without its newline (as `echo pw > file` writes it)', () => {
    expect(readPasswordFile(file('lf', 's3cret\n'))).toBe('s3cret');
    expect(readPasswordFile(file('crlf', 's3cret\r\n'))).toBe('s3cret');
    expect(readPasswordFile(file('bare', ' spaces kept '))).toBe(' spaces kept ');
  });

  it('refuses an empty file, a file of several lines, and a missing one, naming the file, never the content', () => {
    expect(() => readPasswordFile(file('empty', '\n'))).toThrow(`the password file ${join(dir, 'empty')} is empty`);
    expect(() => readPasswordFile(file('two', 'one\ntwo\n'))).toThrow('has more than one line');
    expect(() => readPasswordFile(file('two', 'one\ntwo\n'))).not.toThrow(/one\ntwo/);
    expect(() => readPasswordFile(join(dir, 'nope'))).toThrow(`cannot read the password file ${join(dir, 'nope')}`);
  });
});

describe('grantRange', () => {
  it('shows a key, a prefix and another range as `gantry access list` prints them', () => {
    expect(grantRange({ key: '/a/config', rangeEnd: '' })).toBe('/a/config');
    expect(grantRange({ key: '/a/hosts/', rangeEnd: '/a/hosts0' })).toBe('/a/hosts/*');
    expect(grantRange({ key: '/a/', rangeEnd: '/b' })).toBe('[/a/, /b)');
  });
});
