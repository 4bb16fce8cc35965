import { assertValidFrontend, assertValidName, assertValidServer, backendName, frontendProxyName, hostPort, sanitizeName } from './frontend';

describe('names', () => {
  it('accepts HAProxy-safe names and rejects the rest', () => {
    for (const ok of ['web', 'web-8080', 'c-0123456789ab', 'a.b_c']) expect(() => assertValidName('server', ok)).not.toThrow();
    for (const bad of ['', 'a b', 'a/b', 'a;b', 'a:b', 'é', 'x'.repeat(101)]) expect(() => assertValidName('server', bad)).toThrow(/invalid server name/);
  });

  it('sanitizes anything into a valid name', () => {
    expect(sanitizeName('my app/v2:latest')).toBe('my_app_v2_latest');
    expect(sanitizeName('')).toBe('_');
    expect(sanitizeName('x'.repeat(300))).toHaveLength(100);
    for (const raw of ['a b', 'ü', '../../etc', 'x;y\nz']) expect(() => assertValidName('server', sanitizeName(raw))).not.toThrow();
  });

  it('derives proxy names per frontend', () => {
    expect(frontendProxyName('web-80')).toBe('fe_web-80');
    expect(backendName('web-80')).toBe('be_web-80');
  });
});

describe('addresses', () => {
  it('brackets IPv6 only', () => {
    expect(hostPort('127.0.0.1', 80)).toBe('127.0.0.1:80');
    expect(hostPort('::1', 80)).toBe('[::1]:80');
  });

  it('validates servers and frontends', () => {
    expect(() => assertValidServer({ name: 'a', address: '10.0.0.1', port: 8080 })).not.toThrow();
    expect(() => assertValidServer({ name: 'a', address: 'example.com', port: 8080 })).toThrow(/expected an IP address/);
    expect(() => assertValidServer({ name: 'a', address: '10.0.0.1', port: 0 })).toThrow(/invalid port/);
    expect(() => assertValidFrontend({ name: 'web', bindAddress: '127.0.1.2', port: 80, mode: 'http' })).not.toThrow();
    expect(() => assertValidFrontend({ name: 'web', bindAddress: '127.0.1.2\n  bind *', port: 80, mode: 'http' })).toThrow(/invalid bind address/);
    expect(() => assertValidFrontend({ name: 'web', bindAddress: '127.0.1.2', port: 80, mode: 'udp' as 'tcp' })).toThrow(/invalid mode/);
  });
});
