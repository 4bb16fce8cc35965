'use strict';
// Demo app that Gantry deploys in tests and benchmarks. Dependency-free so it runs with nothing but
// the node binary in a FROM-scratch image. Its endpoints exist to exercise a deploy: versions to
// tell old from new, health/readiness that tests can break, and long requests and streams that
// must survive a graceful drain.
const http = require('node:http');
const os = require('node:os');
const crypto = require('node:crypto');

const VERSION = process.env.APP_VERSION || 'dev';
const FLAVOR = process.env.APP_FLAVOR || 'ok';
const PORT = Number(process.env.PORT || 8080);
const READY_DELAY_MS = Number(process.env.READY_DELAY_MS || 0);
// Unset: streams stay open while draining until the orchestrator kills us; it owns the deadline.
const CLOSE_STREAMS_MS = process.env.SHUTDOWN_CLOSE_STREAMS_MS ? Number(process.env.SHUTDOWN_CLOSE_STREAMS_MS) : undefined;
const MAX_SLOW_MS = 10 * 60 * 1000;
const STREAM_TICK_MS = 500;

const startedAt = Date.now();
let healthy = true;
let draining = false;
const streams = new Set(); // close functions of open /stream responses and /ws sockets

const log = (msg) => console.log(`${new Date().toISOString()} demo-app ${VERSION} pid=${process.pid}: ${msg}`);

function send(res, status, body, type = 'text/plain; charset=utf-8') {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  // While draining, no connection may be reused: a response that started before SIGTERM (a /slow
  // in flight) gets this too, so its keep-alive socket closes instead of idling open.
  if (draining) res.setHeader('Connection', 'close');
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
const sendJson = (res, status, body) => send(res, status, body, 'application/json');

function isReady() {
  return FLAVOR !== 'broken' && !draining && Date.now() - startedAt >= READY_DELAY_MS;
}

function slow(req, res, url) {
  const raw = url.searchParams.get('ms');
  if (raw === null || !/^\d{1,9}$/.test(raw) || Number(raw) > MAX_SLOW_MS) {
    return send(res, 400, `ms must be an integer from 0 to ${MAX_SLOW_MS}\n`);
  }
  const ms = Number(raw);
  const timer = setTimeout(() => sendJson(res, 200, { version: VERSION, waitedMs: ms }), ms);
  // A client that gave up must not hold the drain open until its timer fires.
  res.on('close', () => clearTimeout(timer));
}

function stream(req, res) {
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
  res.flushHeaders();
  let counter = 0;
  const tick = () => res.write(`data: ${VERSION} ${counter++}\n\n`);
  tick();
  const timer = setInterval(tick, STREAM_TICK_MS);
  const close = () => res.end();
  streams.add(close);
  res.on('close', () => {
    clearInterval(timer);
    streams.delete(close);
  });
}

// GET /via/ALIAS/PATH: fetches PATH from the component link ALIAS (Gantryd's ALIAS_CLINK variable,
// tcp://addr:port or http://addr:port) and answers with what it got, so a test can send traffic
// through a link from inside a container. One connection per request (no keep-alive): a reused
// socket the server closes at the same moment would fail for reasons no orchestrator controls.
function via(req, res, url) {
  const match = /^\/via\/([A-Za-z_][A-Za-z0-9_]*)(\/.*)?$/.exec(url.pathname);
  const link = match && process.env[`${match[1].toUpperCase()}_CLINK`];
  if (!link) return send(res, 404, `no component link ${match ? match[1].toUpperCase() + '_CLINK' : '(alias missing)'}\n`);
  const target = new URL(link.replace(/^tcp:/, 'http:'));
  const upstream = http.get({ host: target.hostname, port: target.port, path: `${match[2] || '/'}${url.search}`, agent: false, timeout: 10_000 }, (answer) => {
    const chunks = [];
    answer.on('data', (chunk) => chunks.push(chunk));
    answer.on('end', () => sendJson(res, answer.statusCode === 200 ? 200 : 502, { version: VERSION, via: link, status: answer.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
    answer.on('error', (err) => sendJson(res, 502, { version: VERSION, via: link, error: err.message }));
  });
  upstream.on('timeout', () => upstream.destroy(new Error('timed out')));
  upstream.on('error', (err) => sendJson(res, 502, { version: VERSION, via: link, error: err.message }));
}

const routes = {
  'GET /': (req, res) => sendJson(res, 200, { version: VERSION, hostname: os.hostname(), pid: process.pid }),
  'GET /healthz': (req, res) => (healthy ? send(res, 200, 'ok\n') : send(res, 500, 'failing\n')),
  'GET /ready': (req, res) => (isReady() ? send(res, 200, 'ready\n') : send(res, 503, 'not ready\n')),
  'GET /slow': slow,
  'GET /stream': stream,
  'POST /admin/fail-health': (req, res) => {
    healthy = false;
    log('health forced to fail');
    send(res, 200, 'health now failing\n');
  },
  'POST /admin/heal': (req, res) => {
    healthy = true;
    log('health restored');
    send(res, 200, 'health restored\n');
  },
};

const server = http.createServer((req, res) => {
  res.setHeader('X-App-Version', VERSION);
  const url = new URL(req.url, 'http://localhost');
  const route = routes[`${req.method} ${url.pathname}`];
  if (route) return route(req, res, url);
  if (req.method === 'GET' && url.pathname.startsWith('/via/')) return via(req, res, url);
  const known = Object.keys(routes).some((key) => key.endsWith(` ${url.pathname}`));
  send(res, known ? 405 : 404, known ? 'method not allowed\n' : 'not found\n');
});

// Minimal WebSocket on /ws: sends a text frame like /stream's every tick, answers a close frame.
// Enough to check that a deploy keeps upgraded connections alive; not a general implementation.
server.on('upgrade', (req, socket) => {
  const key = req.headers['sec-websocket-key'];
  if (new URL(req.url, 'http://localhost').pathname !== '/ws' || !key || draining) {
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  const accept = crypto.createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC11B85`).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nX-App-Version: ${VERSION}\r\n\r\n`);
  const frame = (opcode, payload) => Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload]); // payloads < 126 bytes
  let counter = 0;
  const tick = () => socket.write(frame(0x1, Buffer.from(`${VERSION} ${counter++}`)));
  tick();
  const timer = setInterval(tick, STREAM_TICK_MS);
  const close = () => socket.end(frame(0x8, Buffer.from([0x03, 0xe9]))); // 1001 going away
  streams.add(close);
  socket.on('data', (buf) => {
    if ((buf[0] & 0x0f) === 0x8) socket.end(frame(0x8, Buffer.alloc(0)));
  });
  socket.on('error', () => socket.destroy());
  socket.on('close', () => {
    clearInterval(timer);
    streams.delete(close);
  });
});

function shutdown(signal) {
  if (draining) {
    log(`${signal} again, exiting now with ${streams.size} stream(s) open`);
    process.exit(1);
  }
  draining = true;
  log(`${signal} received: draining (${streams.size} stream(s) open)`);
  server.close(() => {
    log('drained: all connections closed, exiting 0');
    process.exit(0);
  });
  server.closeIdleConnections(); // Node 20 does this in close() too; explicit for older behaviour
  if (CLOSE_STREAMS_MS !== undefined) {
    setTimeout(() => {
      log(`closing ${streams.size} stream(s) after SHUTDOWN_CLOSE_STREAMS_MS=${CLOSE_STREAMS_MS}`);
      for (const close of streams) close();
    }, CLOSE_STREAMS_MS).unref();
  }
}
// The deaf flavor's PID 1 ignores SIGTERM, as shell scripts and many runtimes without a handler do:
// only the SIGKILL at the end of Docker's stop timeout ends it.
if (FLAVOR === 'deaf') process.on('SIGTERM', () => log('SIGTERM ignored (deaf flavor): waiting for SIGKILL'));
else process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

server.listen(PORT, '0.0.0.0', () => {
  log(`listening on 0.0.0.0:${server.address().port} (flavor ${FLAVOR}, ready delay ${READY_DELAY_MS} ms)`);
  if (FLAVOR === 'broken') log('broken flavor: /ready will answer 503 forever');
  else if (READY_DELAY_MS > 0) setTimeout(() => log('ready'), READY_DELAY_MS).unref();
});
