import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { devHome } from '@gantry/testkit';

/** One row of the fault table `npm run test:faults` prints (and docs/reliability.md carries). */
export interface FaultRow {
  /** What broke, e.g. "HAProxy master SIGKILLed". */
  fault: string;
  /** Exactly what the test did to cause it. */
  injected: string;
  /** Requests the load generator sent across the fault, and how many failed (errors + non-2xx). */
  sent: number;
  failed: number;
  /** From the injection until service (or the checked condition) was back, ms; 0 when it never went. */
  recoveryMs: number;
  /** Healthy containers replaced because of the fault (the goal is 0). */
  replaced: number;
  /** Anything a reader of the table needs to read a figure right. */
  note?: string;
}

/** Where the rows go: $GANTRY_FAULT_REPORT, else a file the fault script reads and clears. */
export const faultReportPath = (): string => process.env.GANTRY_FAULT_REPORT ?? `${devHome()}/faults/report.jsonl`;

/** Appends a row for the table and logs it, so a single test run shows its figures too. */
export function recordFault(row: FaultRow): void {
  const path = faultReportPath();
  mkdirSync(dirname(path), { recursive: true });
  appendFileSync(path, `${JSON.stringify({ ...row, at: new Date().toISOString() })}\n`);
  console.log(`fault: ${row.fault} | injected: ${row.injected} | sent ${row.sent}, failed ${row.failed} | recovery ${row.recoveryMs} ms | replaced ${row.replaced}${row.note ? ` | ${row.note}` : ''}`);
}
