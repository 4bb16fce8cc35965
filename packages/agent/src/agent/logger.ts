import winston from 'winston';

export type Logger = winston.Logger;

/**
 * Structured JSON logs, one object per line, each carrying host and project (and component and
 * version on a component's lines, through `child`).
 */
export function createLogger(meta: { host: string; project: string }, level = process.env.GANTRY_LOG_LEVEL ?? 'info'): Logger {
  return winston.createLogger({
    level,
    defaultMeta: meta,
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
  });
}
