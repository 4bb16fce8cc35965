'use strict';
// Docker HEALTHCHECK probe. The image has no shell or curl, so the check is this node script:
// exit 0 when /healthz answers 200 within 2 s, 1 otherwise.
const http = require('node:http');

const port = Number(process.env.PORT || 8080);
const fail = (why) => {
  console.error(`healthcheck: ${why}`);
  process.exit(1);
};
// One deadline for connect + response, independent of how the request stalls.
setTimeout(() => fail('no answer within 2000 ms'), 2000).unref();

http
  .get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
    res.resume();
    if (res.statusCode === 200) process.exit(0);
    fail(`/healthz answered ${res.statusCode}`);
  })
  .on('error', (err) => fail(err.message));
