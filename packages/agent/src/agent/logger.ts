import winston from 'winston';

export type Logger = winston.Logger;

/**
 * Structured JSON logs, one object per line, each carrying host and project (and component and
 * version on a component's lines, through `child`).
 */
export function createLogger(meta: { host: string; project: string }, level = process.env.GANTRY_LOG_LEVEL ?? 'info'): Logger {
  const logger: Logger = winston.createLogger({
    level,
    defaultMeta: meta,
    // Winston formats every line before its transport drops those below the level: dropped first,
    // a debug line costs nothing (a host's status writes log at debug).
    format: winston.format.combine(
      winston.format((info) => (logger.isLevelEnabled(info.level) ? info : false))(),
      winston.format.timestamp(),
      winston.format.json(),
    ),
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
  });
  return logger;
}
