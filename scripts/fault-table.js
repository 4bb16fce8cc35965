#!/usr/bin/env node
// Prints the rows the fault tests recorded (test/faults/fault-report.ts) as a Markdown table.
// Usage: node scripts/fault-table.js REPORT.jsonl
const { readFileSync, existsSync } = require('node:fs');
const path = process.argv[2];
if (!path || !existsSync(path)) process.exit(0);
const rows = readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
if (rows.length === 0) process.exit(0);
const cell = (v) => String(v).replace(/\|/g, '\\|');
const secs = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
console.log('| fault | injected | requests sent | requests failed | time to recovery | containers replaced | note |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${cell(r.fault)} | ${cell(r.injected)} | ${r.sent} | ${r.failed} | ${secs(r.recoveryMs)} | ${r.replaced} | ${cell(r.note ?? '')} |`);
