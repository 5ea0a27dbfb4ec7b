import winston from 'winston';
import type { LogFormat, LogLevel } from './config';

export type Logger = winston.Logger;

// Read once at load: the package's own version, as `valori-node --version` prints it.
const PACKAGE = require('../package.json') as { version: string };

/**
 * On every JSON line, so a log pipeline that merges many processes can tell whose line it is.
 * The terminal form leaves them out: there is one process on a terminal.
 */
export const LOG_IDENTITY: Readonly<{ service: string; version: string; pid: number }> = {
  service: 'valori-node',
  version: PACKAGE.version,
  pid: process.pid,
};

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** Where lines go; defaults to stdout. Tests pass their own stream to read what was logged. */
  stream?: NodeJS.WritableStream;
}

// Field names that may carry secrets. Callers never pass request headers to the logger, but a
// stray `authorization` or token field must not reach the output even by mistake.
const SECRET_KEYS = new Set(['authorization', 'authtoken', 'token', 'valori_auth_token']);

const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (SECRET_KEYS.has(key.toLowerCase())) info[key] = '<redacted>';
  }
  return info;
});

// Terminal form mirrors the guide's readiness line: `INFO valori_node: Listening on 0.0.0.0:3000`.
const pretty = winston.format.printf((info) => {
  const { level, message, timestamp, service: _s, version: _v, pid: _p, ...rest } = info;
  const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
  return `${String(timestamp)} ${level.toUpperCase()} valori_node: ${String(message)}${extra}`;
});

export function createLogger(options: LoggerOptions): Logger {
  const stream = options.stream ?? process.stdout;
  const isTty = (stream as NodeJS.WriteStream).isTTY === true;
  const json = options.format === 'json' || (options.format === 'auto' && !isTty);
  return winston.createLogger({
    level: options.level === 'silent' ? 'error' : options.level,
    silent: options.level === 'silent',
    defaultMeta: { ...LOG_IDENTITY },
    format: winston.format.combine(
      redact(),
      winston.format.timestamp(),
      json ? winston.format.json() : pretty,
    ),
    transports: [new winston.transports.Stream({ stream })],
  });
}
