import { linkEnvironment, withLinkEnvironment } from './link-environment';

describe('link environment', () => {
  it("sets Gantryd's five variables for a tcp link, alias upper-cased, the container port in the names and the host's link port in the values", () => {
    expect(linkEnvironment('serveralias', { port: 8888, kind: 'tcp' }, { address: '172.17.0.1', port: 20417 })).toEqual([
      { name: 'SERVERALIAS_CLINK', value: 'tcp://172.17.0.1:20417' },
      { name: 'SERVERALIAS_CLINK_8888_TCP', value: 'tcp://172.17.0.1:20417' },
      { name: 'SERVERALIAS_CLINK_8888_TCP_PROTO', value: 'tcp' },
      { name: 'SERVERALIAS_CLINK_8888_TCP_ADDR', value: '172.17.0.1' },
      { name: 'SERVERALIAS_CLINK_8888_TCP_PORT', value: '20417' },
    ]);
  });

  it('names an http link _HTTP and gives http:// URIs', () => {
    const env = linkEnvironment('Up_1', { port: 8080, kind: 'http' }, { address: '10.0.0.1', port: 20001 });
    expect(env.map((v) => v.name)).toEqual(['UP_1_CLINK', 'UP_1_CLINK_8080_HTTP', 'UP_1_CLINK_8080_HTTP_PROTO', 'UP_1_CLINK_8080_HTTP_ADDR', 'UP_1_CLINK_8080_HTTP_PORT']);
    expect(env[0].value).toBe('http://10.0.0.1:20001');
    expect(env[2].value).toBe('http');
  });

  it("replaces a configured variable of the same name, as Gantryd's do, and keeps the others in order", () => {
    const configured = [
      { name: 'A', value: '1' },
      { name: 'DB_CLINK', value: 'stale' },
      { name: 'B', value: '2', secret: true },
    ];
    expect(withLinkEnvironment(configured, [{ name: 'DB_CLINK', value: 'tcp://x:1' }])).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: '2', secret: true },
      { name: 'DB_CLINK', value: 'tcp://x:1' },
    ]);
  });
});
