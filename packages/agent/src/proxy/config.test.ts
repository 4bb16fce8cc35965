import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ConfigInput, DEFAULT_SETTINGS, renderConfig, renderServerState, resolveSettings, structureFingerprint } from './config';
import { type DesiredProxy, withServer } from './desired';

const fixture = (name: string) => readFileSync(join(__dirname, '__fixtures__', name), 'utf8');
const paths = {
  adminSocket: '/tmp/gcap/h/admin.sock',
  serverState: '/tmp/gcap/h/servers.state',
  maintenanceMaps: { html: '/tmp/gcap/h/maintenance-html.map', json: '/tmp/gcap/h/maintenance-json.map', hold: '/tmp/gcap/h/maintenance-hold.map' },
  holdScript: '/tmp/gcap/h/maintenance-hold.lua',
};

/** The desired state the fixtures were captured from (a real HAProxy 2.6.12 loaded them). */
const desired: DesiredProxy = {
  frontends: [
    { name: 'api', bindAddress: '127.0.1.77', port: 18185, mode: 'http' },
    { name: 'db', bindAddress: '127.0.1.77', port: 18183, mode: 'tcp' },
    { name: 'web', bindAddress: '127.0.1.77', port: 18180, mode: 'http' },
  ],
  servers: {
    api: [],
    db: [{ name: 'c-dddddddddddd', address: '127.0.0.1', port: 18182, state: 'ready' }],
    web: [
      { name: 'c-aaaaaaaaaaaa', address: '127.0.0.1', port: 18181, state: 'ready' },
      { name: 'c-bbbbbbbbbbbb', address: '127.0.0.1', port: 18182, state: 'drain' },
      { name: 'c-cccccccccccc', address: '::1', port: 18184, state: 'maint' },
    ],
  },
};
const input: ConfigInput = { paths, settings: DEFAULT_SETTINGS, desired };

describe('renderConfig', () => {
  it('renders the config HAProxy 2.6 accepted in the integration capture', () => {
    expect(renderConfig(input)).toBe(fixture('haproxy.cfg'));
  });

  it('writes every server, maint ones disabled, and the seamless-reload essentials', () => {
    const cfg = renderConfig(input);
    expect(cfg).toContain('    master-worker\n');
    expect(cfg).toMatch(/stats socket \/tmp\/gcap\/h\/admin.sock .*level admin expose-fd listeners/);
    expect(cfg).toContain('    load-server-state-from-file global\n');
    expect(cfg).toContain('    server c-cccccccccccc [::1]:18184 disabled\n');
    expect(cfg).toContain('    server c-bbbbbbbbbbbb 127.0.0.1:18182\n');
    expect(cfg).not.toMatch(/http-server-close|httpclose|\bcheck\b/);
    expect(cfg.match(/balance roundrobin/g)).toHaveLength(3);
  });

  it('gives every http frontend the maintenance rules, reading the maps (no reload turns maintenance on or off), and tcp frontends none', () => {
    const cfg = renderConfig(input);
    const json = 'http-request return status 503 content-type "application/json" hdr cache-control no-store lf-string "%[fe_name,map(/tmp/gcap/h/maintenance-json.map)]" if { fe_name,map(/tmp/gcap/h/maintenance-json.map) -m found } { req.hdr(accept) -m sub -i application/json }';
    const html = 'http-request return status 503 content-type "text/html; charset=utf-8" hdr cache-control no-store lf-string "%[fe_name,map(/tmp/gcap/h/maintenance-html.map)]" if { fe_name,map(/tmp/gcap/h/maintenance-html.map) -m found }';
    expect(cfg.split(`    ${json}\n    ${html}\n`)).toHaveLength(3); // api and web
    expect(cfg.slice(cfg.indexOf('frontend fe_db'), cfg.indexOf('backend be_db'))).not.toContain('http-request');
    const inMaintenance = { ...desired, maintenance: { web: { message: 'back soon', since: '2026-12-03T09:00:00.000Z' } } };
    expect(structureFingerprint({ ...input, desired: inMaintenance })).toBe(structureFingerprint(input));
  });

  it('applies settings: forwardfor on http frontends only, maxconn, timeouts', () => {
    const settings = resolveSettings({ forwardFor: true, maxconn: 2000, timeouts: { server: '10m' }, hardStopAfter: '2h' });
    const cfg = renderConfig({ ...input, settings });
    expect(cfg.match(/option forwardfor/g)).toHaveLength(2);
    expect(cfg).toContain('    maxconn 2000\n');
    expect(cfg).toContain('    timeout server 10m\n');
    expect(cfg).toContain('    timeout client 1h\n');
    expect(cfg).toContain('    hard-stop-after 2h\n');
  });

  it('rejects malformed settings', () => {
    expect(() => resolveSettings({ timeouts: { client: 'forever' } })).toThrow(/invalid HAProxy time "forever" for client/);
    expect(() => resolveSettings({ hardStopAfter: '1 h' })).toThrow(/hardStopAfter/);
    expect(() => resolveSettings({ maxconn: 0 })).toThrow(/maxconn/);
  });
});

describe('renderServerState', () => {
  it('renders ready/drain/maint in the format `show servers state` prints', () => {
    expect(renderServerState(desired)).toBe(fixture('servers.state'));
  });
});

describe('structureFingerprint', () => {
  it('ignores servers, changes with frontends and settings', () => {
    const base = structureFingerprint(input);
    const moreServers = withServer(desired, 'api', { name: 'x', address: '10.0.0.1', port: 1, state: 'drain' });
    expect(structureFingerprint({ ...input, desired: moreServers })).toBe(base);
    const movedPort = { ...desired, frontends: desired.frontends.map((f) => (f.name === 'api' ? { ...f, port: 18186 } : f)) };
    expect(structureFingerprint({ ...input, desired: movedPort })).not.toBe(base);
    expect(structureFingerprint({ ...input, settings: resolveSettings({ forwardFor: true }) })).not.toBe(base);
  });
});
