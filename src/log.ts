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
  const logger = winston.createLogger({
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
  const infoOn = options.level !== 'silent' && winston.config.npm.levels[options.level] >= winston.config.npm.levels.info;
  ACCESS_WRITERS.set(logger, infoOn ? new AccessWriter(stream, json) : { write: () => {} });
  return logger;
}

/** One request's access line (src/http/request-context.ts); optional fields are left out when absent. */
export interface AccessFields {
  requestId: string;
  traceId?: string;
  method: string;
  route: string;
  status: number;
  code?: string;
  ms: number;
  bytes: number;
  aborted?: true;
}

export interface AccessLog {
  write(fields: AccessFields): void;
}

const ACCESS_WRITERS = new WeakMap<Logger, AccessLog>();

/**
 * The access log of a logger: the same line winston would write for `logger.info('access', fields)`,
 * formatted by hand and written once per event-loop turn for all requests that finished in it.
 * Through winston the line cost more main-thread time than a whole search request (a format
 * pipeline and one write call per line); see docs/BENCHMARKS.md, "Where a request's time goes".
 */
export function accessLogOf(logger: Logger): AccessLog {
  return ACCESS_WRITERS.get(logger) ?? { write: (f) => logger.info('access', { ...f }) };
}

const IDENTITY_JSON = {
  pid: String(LOG_IDENTITY.pid),
  service: JSON.stringify(LOG_IDENTITY.service),
  version: JSON.stringify(LOG_IDENTITY.version),
};

class AccessWriter implements AccessLog {
  private pending: string[] = [];
  private scheduled = false;
  private readonly flush = (): void => {
    this.scheduled = false;
    const lines = this.pending;
    if (lines.length === 0) return;
    this.pending = [];
    this.stream.write(lines.join(''));
  };

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly json: boolean,
  ) {
    // Lines still held when the process exits are written then (stdout to a file or pipe is
    // synchronous in an 'exit' handler).
    process.once('exit', this.flush);
  }

  write(f: AccessFields): void {
    this.pending.push(this.json ? jsonLine(f) : prettyLine(f));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }
}

// winston's json format sorts keys (safe-stable-stringify): the same order, written directly.
function jsonLine(f: AccessFields): string {
  const s = JSON.stringify;
  return (
    (f.aborted === true ? '{"aborted":true,"bytes":' : '{"bytes":') +
    f.bytes +
    (f.code === undefined ? '' : `,"code":${s(f.code)}`) +
    `,"level":"info","message":"access","method":${s(f.method)},"ms":${f.ms},"pid":${IDENTITY_JSON.pid},"requestId":${s(f.requestId)}` +
    `,"route":${s(f.route)},"service":${IDENTITY_JSON.service},"status":${f.status},"timestamp":"${new Date().toISOString()}"` +
    (f.traceId === undefined ? '' : `,"traceId":${s(f.traceId)}`) +
    `,"version":${IDENTITY_JSON.version}}\n`
  );
}

function prettyLine(f: AccessFields): string {
  return `${new Date().toISOString()} INFO valori_node: access ${JSON.stringify(f)}\n`;
}
