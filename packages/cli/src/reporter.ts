import type { EngineEvent } from '@gantry/agent';
import { formatEvent } from './format-event';

/**
 * Where a verb's output goes. Human mode prints a line per event worth one (ready-check attempts
 * only when their outcome changes); `--json` prints one JSON object per line, the result last.
 */
export class Reporter {
  private lastCheckLine = new Map<string, string>();

  constructor(
    readonly json: boolean,
    private readonly out: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
    private readonly err: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  ) {}

  event = (event: EngineEvent): void => {
    if (event.type === 'ready-check') {
      const key = `${event.container}/${event.result.check}`;
      const outcome = `${event.result.ok}:${event.result.detail}`;
      if (this.lastCheckLine.get(key) === outcome) return;
      this.lastCheckLine.set(key, outcome);
    }
    if (this.json) {
      const { type, ...fields } = event;
      this.out(JSON.stringify({ event: type, at: new Date().toISOString(), ...fields }));
      return;
    }
    const line = formatEvent(event);
    if (line) this.out(line);
  };

  /** The verb's result: a JSON object in --json mode, else the given human lines. */
  result(value: Record<string, unknown>, human: string[]): void {
    if (this.json) this.out(JSON.stringify({ event: 'result', ...value }));
    else for (const line of human) this.out(line);
  }

  /** A failure: JSON on stdout for scripts, a message on stderr for people. */
  failure(message: string, details: Record<string, unknown> = {}): void {
    if (this.json) this.out(JSON.stringify({ event: 'error', message, ...details }));
    else this.err(`error: ${message}`);
  }
}
