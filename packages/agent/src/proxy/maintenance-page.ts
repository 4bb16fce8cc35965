/**
 * What a client of a frontend in maintenance gets with its 503: a small HTML page, or JSON when
 * it asks for application/json. Each is one line (HAProxy keeps them in map files and takes them
 * over its Runtime API line by line) and the message is escaped for its format: it is text the
 * operator typed, never markup.
 */
export interface MaintenanceBodies {
  html: string;
  json: string;
}

/** Control characters other than newlines and tabs are dropped: they have no business in a message. */
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

export function renderMaintenanceBodies(message: string): MaintenanceBodies {
  const clean = message.replace(CONTROL, '').replace(/\t/g, ' ').trim();
  const lines = clean.split(/\r\n|\r|\n/).map(escapeHtml).join('<br>');
  const html =
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">' +
    '<title>Down for maintenance</title><style>body{font:16px/1.5 system-ui,sans-serif;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center;color:#222;background:#f6f6f6}' +
    'main{max-width:36em;padding:2em}h1{font-size:1.4em;margin:0 0 .5em}</style></head>' +
    `<body><main><h1>Down for maintenance</h1><p>${lines}</p></main></body></html>`;
  // JSON.stringify escapes every newline and control character: always one line.
  const json = JSON.stringify({ error: 'maintenance', message: clean });
  return { html, json };
}
