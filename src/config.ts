// One schema for every environment variable the node reads. Each entry carries its env name,
// type, default, doc and the feature (issue) that activates it, so `--help` and the README table
// are generated from the same source the boot-time validation uses. Native reads no environment.

/** A bad value at boot. The message is ONE line naming the variable and the accepted values. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

export type IndexKind = 'brute' | 'hnsw' | 'ivf';
export type QuantKind = 'none' | 'scalar' | 'product';
export type LogLevel = 'silent' | 'error' | 'warn' | 'info' | 'debug' | 'silly';
export type LogFormat = 'auto' | 'json' | 'pretty';

export interface BindAddress {
  host: string;
  port: number;
}

/** Which issue turns a variable on; variables of later issues are accepted and validated now. */
export type Activation =
  | 'foundation (issue 2)'
  | 'durability (issue 3)'
  | 'indexes (issue 4)'
  | 'replication (issue 5)';

interface VarSpec<T> {
  env: string;
  type: string;
  /** Default as shown to operators. */
  defaultText: string;
  doc: string;
  activatedBy: Activation;
  /** `raw` is undefined when the variable is unset (an empty string counts as unset unless `emptyIsValue`). */
  parse(raw: string | undefined): T;
  emptyIsValue?: boolean;
}

const U32_MAX = 4_294_967_295;
// V8 cannot build a string longer than this (2^29 - 24 chars); the JSON body is decoded into one.
const V8_MAX_STRING = 536_870_888;
// A 10,000 x 1,536 batch where every component is printed the way JSON.stringify prints a float32
// widened to double, e.g. "-0.12345678901234568," = 21 bytes, plus 1 MiB for brackets and keys.
const BATCH_ROWS = 10_000;
const BATCH_DIM = 1_536;
const BYTES_PER_COMPONENT = 21;
export const DEFAULT_MAX_BODY_BYTES = BATCH_ROWS * BATCH_DIM * BYTES_PER_COMPONENT + 1_048_576;

function fail(env: string, accepted: string, raw: string): never {
  throw new ConfigError(env, `${env}=${JSON.stringify(raw)} is invalid: expected ${accepted}`);
}

function uint(
  env: string,
  def: number | null,
  min: number,
  max: number,
  doc: string,
  activatedBy: Activation,
): VarSpec<number> {
  return {
    env,
    type: `integer ${min}..${max}`,
    defaultText: def === null ? '(unset)' : String(def),
    doc,
    activatedBy,
    parse(raw) {
      if (raw === undefined) {
        if (def === null) throw new ConfigError(env, `${env} is required: expected an integer ${min}..${max}`);
        return def;
      }
      const text = raw.trim();
      if (!/^\d+$/.test(text)) fail(env, `an integer ${min}..${max}`, raw);
      const n = Number(text);
      if (!Number.isSafeInteger(n) || n < min || n > max) fail(env, `an integer ${min}..${max}`, raw);
      return n;
    },
  };
}

function optionalUint(env: string, min: number, max: number, doc: string, activatedBy: Activation): VarSpec<number | null> {
  const inner = uint(env, 0, min, max, doc, activatedBy);
  return { ...inner, defaultText: '(unset)', parse: (raw) => (raw === undefined ? null : inner.parse(raw)) };
}

function oneOf<T extends string>(env: string, values: readonly T[], def: T, doc: string, activatedBy: Activation): VarSpec<T> {
  return {
    env,
    type: values.join('|'),
    defaultText: def,
    doc,
    activatedBy,
    parse(raw) {
      if (raw === undefined) return def;
      const v = raw.trim().toLowerCase();
      const found = values.find((x) => x === v);
      if (found === undefined) fail(env, `one of ${values.join(', ')}`, raw);
      return found;
    },
  };
}

function path(env: string, doc: string, activatedBy: Activation): VarSpec<string | null> {
  return { env, type: 'path', defaultText: '(unset)', doc, activatedBy, parse: (raw) => raw ?? null };
}

function parseBind(raw: string | undefined): BindAddress {
  const env = 'VALORI_BIND';
  const accepted = 'HOST:PORT with an IPv4 address, a hostname or [IPv6], and a port 0..65535 (e.g. 127.0.0.1:3000)';
  if (raw === undefined) return { host: '127.0.0.1', port: 3000 };
  const text = raw.trim();
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text);
  if (!m) fail(env, accepted, raw);
  const port = Number(m[2]);
  if (port > 65535) fail(env, accepted, raw);
  let host = m[1];
  if (host.startsWith('[')) {
    host = host.slice(1, -1);
  } else if (/^[\d.]+$/.test(host)) {
    const parts = host.split('.');
    if (parts.length !== 4 || parts.some((p) => p === '' || Number(p) > 255)) fail(env, accepted, raw);
  } else if (host.split('.').some((label) => label === '' || label.startsWith('-') || label.endsWith('-'))) {
    fail(env, accepted, raw);
  }
  return { host, port };
}

const RUST_LEVELS: Record<string, LogLevel> = {
  off: 'silent',
  error: 'error',
  warn: 'warn',
  info: 'info',
  debug: 'debug',
  trace: 'silly',
};

/**
 * RUST_LOG in tracing-subscriber form: `valori_node=info`, `valori_node=debug,tower_http=debug` or
 * a bare `info`. Only the bare level and `valori_node[...]` directives concern us; directives for
 * other targets are ignored, as tracing would ignore targets that do not exist here.
 */
export function parseRustLog(raw: string | undefined): LogLevel {
  const env = 'RUST_LOG';
  const accepted = 'comma-separated directives like "valori_node=info" or a bare level (off, error, warn, info, debug, trace)';
  if (raw === undefined) return 'info';
  let bare: LogLevel | undefined;
  let ours: LogLevel | undefined;
  for (const directive of raw.split(',').map((d) => d.trim()).filter((d) => d !== '')) {
    const eq = directive.indexOf('=');
    if (eq < 0) {
      const level = RUST_LEVELS[directive.toLowerCase()];
      // A bare word that is not a level is a target name with no level: tracing enables it at
      // trace, which only matters to us when it names this crate.
      if (level !== undefined) bare = level;
      else if (directive === 'valori_node') ours = 'silly';
      else if (!/^[A-Za-z0-9_:-]+$/.test(directive)) fail(env, accepted, raw);
      continue;
    }
    const target = directive.slice(0, eq).trim();
    const level = RUST_LEVELS[directive.slice(eq + 1).trim().toLowerCase()];
    if (target === 'valori_node' || target.startsWith('valori_node::')) {
      if (level === undefined) fail(env, accepted, raw);
      ours = level;
    }
  }
  return ours ?? bare ?? 'info';
}

function parseFollower(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  const env = 'VALORI_FOLLOWER_OF';
  const accepted = 'an http:// or https:// URL with host and port (e.g. http://leader:3000)';
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    fail(env, accepted, raw);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') fail(env, accepted, raw);
  // Paths are appended to this base, so a trailing slash would double up.
  return url.toString().replace(/\/+$/, '');
}

function bool(env: string, def: boolean, doc: string, activatedBy: Activation): VarSpec<boolean> {
  return {
    env,
    type: 'boolean (true|false|1|0)',
    defaultText: String(def),
    doc,
    activatedBy,
    parse(raw) {
      if (raw === undefined) return def;
      const t = raw.trim().toLowerCase();
      if (t === 'true' || t === '1' || t === 'yes') return true;
      if (t === 'false' || t === '0' || t === 'no') return false;
      fail(env, 'true, false, 1 or 0', raw);
    },
  };
}

export const CONFIG_SCHEMA = {
  dim: uint('VALORI_DIM', 16, 1, 65_536, 'Vector dimension; every vector and query must have exactly this many components.', 'foundation (issue 2)'),
  maxRecords: uint('VALORI_MAX_RECORDS', 1024, 0, U32_MAX, 'Record capacity (live + soft-deleted); inserts beyond it answer 507. Memory is allocated lazily.', 'foundation (issue 2)'),
  maxNodes: uint('VALORI_MAX_NODES', 1024, 0, U32_MAX, 'Graph-node capacity; node creation beyond it answers 507. 0 disables the graph (every node creation answers 507).', 'foundation (issue 2)'),
  maxEdges: uint('VALORI_MAX_EDGES', 2048, 0, U32_MAX, 'Graph-edge capacity; edge creation beyond it answers 507.', 'foundation (issue 2)'),
  bind: {
    env: 'VALORI_BIND',
    type: 'host:port',
    defaultText: '127.0.0.1:3000',
    doc: 'Address the HTTP server listens on. Use 0.0.0.0:3000 in containers. Port 0 picks a free port (the readiness line shows it).',
    activatedBy: 'foundation (issue 2)',
    parse: parseBind,
  } satisfies VarSpec<BindAddress>,
  authToken: {
    env: 'VALORI_AUTH_TOKEN',
    type: 'string',
    defaultText: '(unset)',
    doc: 'Bearer token required on every route except GET /health and GET /metrics. Unset: auth disabled (warning "Auth Disabled"). Set but empty: refused at boot.',
    activatedBy: 'foundation (issue 2)',
    emptyIsValue: true,
    parse(raw: string | undefined): string | null {
      if (raw === undefined) return null;
      if (raw.trim() === '') {
        throw new ConfigError('VALORI_AUTH_TOKEN', 'VALORI_AUTH_TOKEN is set but empty: expected a non-empty token (e.g. `openssl rand -hex 32`) or leave it unset to disable auth');
      }
      return raw;
    },
  } satisfies VarSpec<string | null>,
  eventLogPath: path('VALORI_EVENT_LOG_PATH', 'Event log file; every mutation is appended (fsync) before it is acknowledged and replayed at start-up.', 'durability (issue 3)'),
  snapshotPath: path('VALORI_SNAPSHOT_PATH', 'Snapshot file written by POST /v1/snapshot/save and the auto-snapshot task; recovery fallback.', 'durability (issue 3)'),
  snapshotIntervalSecs: optionalUint('VALORI_SNAPSHOT_INTERVAL', 1, U32_MAX, 'Auto-snapshot period in seconds (requires VALORI_SNAPSHOT_PATH).', 'durability (issue 3)'),
  acceptTruncation: bool('VALORI_ACCEPT_LOG_TRUNCATION', false, 'On mid-log corruption (a bad entry followed by valid ones), cut the event log at the last good entry and start, instead of refusing to start. Events after the damage are lost: use only after taking a copy of the file.', 'durability (issue 3)'),
  snapshotOnShutdown: bool('VALORI_SNAPSHOT_ON_SHUTDOWN', true, 'Write a final snapshot on SIGTERM/SIGINT when VALORI_SNAPSHOT_PATH is set (bounds the next start-up replay).', 'durability (issue 3)'),
  walPath: path('VALORI_WAL_PATH', 'Legacy write-ahead log; ignored when VALORI_EVENT_LOG_PATH is set.', 'durability (issue 3)'),
  index: oneOf<IndexKind>('VALORI_INDEX', ['brute', 'hnsw', 'ivf'], 'brute', 'Search index: brute (exact scan), hnsw or ivf (approximate).', 'indexes (issue 4)'),
  quant: oneOf<QuantKind>('VALORI_QUANT', ['none', 'scalar', 'product'], 'none', 'Vector quantization applied before indexing.', 'indexes (issue 4)'),
  hnswM: uint('VALORI_HNSW_M', 16, 2, 256, 'HNSW links per node per layer (layer 0 keeps 2*M).', 'indexes (issue 4)'),
  hnswEfConstruction: uint('VALORI_HNSW_EF_CONSTRUCTION', 100, 1, 100_000, 'HNSW candidate list size while building.', 'indexes (issue 4)'),
  hnswEfSearch: uint('VALORI_HNSW_EF_SEARCH', 100, 1, 100_000, 'HNSW candidate list size per query (raised to k when k is larger); a request may override it with "ef".', 'indexes (issue 4)'),
  ivfNlist: uint('VALORI_IVF_NLIST', 0, 0, 1_048_576, 'IVF partitions; 0 = automatic, about sqrt(number of records).', 'indexes (issue 4)'),
  ivfNprobe: uint('VALORI_IVF_NPROBE', 8, 1, 1_048_576, 'IVF partitions probed per query; a request may override it with "nprobe".', 'indexes (issue 4)'),
  followerOf: {
    env: 'VALORI_FOLLOWER_OF',
    type: 'URL',
    defaultText: '(unset)',
    doc: 'Leader base URL; when set the node runs as a read-only follower of that leader (writes answer 307 to it). Requires VALORI_EVENT_LOG_PATH. The follower sends its own VALORI_AUTH_TOKEN to the leader, so both use the same token.',
    activatedBy: 'replication (issue 5)',
    parse: parseFollower,
  } satisfies VarSpec<string | null>,
  replicationCheckIntervalMs: uint('VALORI_REPLICATION_CHECK_INTERVAL_MS', 5_000, 10, 86_400_000, 'Follower only: how often (ms) the follower compares its state hash with the leader\'s at the same height (Synced or Diverged).', 'replication (issue 5)'),
  replicationHeartbeatMs: uint('VALORI_REPLICATION_HEARTBEAT_MS', 10_000, 10, 3_600_000, 'Heartbeat period (ms) of an idle replication stream; a follower drops a stream that is silent for 3 periods and reconnects.', 'replication (issue 5)'),
  maxBodyBytes: uint('VALORI_MAX_BODY_BYTES', DEFAULT_MAX_BODY_BYTES, 1, V8_MAX_STRING, `Largest accepted JSON request body in bytes (413 above). The default (${DEFAULT_MAX_BODY_BYTES}, about 309 MiB) fits a ${BATCH_ROWS} x ${BATCH_DIM} batch at ${BYTES_PER_COMPONENT} bytes per component.`, 'foundation (issue 2)'),
  maxK: uint('VALORI_MAX_K', 10_000, 1, U32_MAX, 'Largest k a search accepts (400 above).', 'foundation (issue 2)'),
  logFormat: oneOf<LogFormat>('VALORI_LOG_FORMAT', ['auto', 'json', 'pretty'], 'auto', 'Log format: json, pretty, or auto (pretty on a terminal, JSON otherwise).', 'foundation (issue 2)'),
  logLevel: {
    env: 'RUST_LOG',
    type: 'log filter',
    defaultText: 'valori_node=info',
    doc: 'Log level in tracing-subscriber form (valori_node=info, valori_node=debug,tower_http=debug, or a bare level). trace maps to the most verbose level; off silences logs.',
    activatedBy: 'foundation (issue 2)',
    parse: parseRustLog,
  } satisfies VarSpec<LogLevel>,
} as const;

type Schema = typeof CONFIG_SCHEMA;
export type Config = { readonly [K in keyof Schema]: ReturnType<Schema[K]['parse']> };

/** Reads and validates every variable; throws ConfigError on the first bad one. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(CONFIG_SCHEMA) as [string, VarSpec<unknown>][]) {
    let raw = env[spec.env];
    if (raw !== undefined && raw === '' && !spec.emptyIsValue) raw = undefined;
    out[key] = spec.parse(raw);
  }
  const config = out as Config;
  if (config.snapshotIntervalSecs !== null && config.snapshotPath === null) {
    throw new ConfigError('VALORI_SNAPSHOT_INTERVAL', 'VALORI_SNAPSHOT_INTERVAL is set but VALORI_SNAPSHOT_PATH is not: expected both, or neither');
  }
  if (config.followerOf !== null && config.eventLogPath === null) {
    // Without its own log a follower could not resume after a restart (and would re-bootstrap
    // or stop silently, as the original did), so it is refused at boot.
    throw new ConfigError('VALORI_FOLLOWER_OF', 'VALORI_FOLLOWER_OF is set but VALORI_EVENT_LOG_PATH is not: a follower needs its own event log (e.g. VALORI_EVENT_LOG_PATH=/data/events.log)');
  }
  return config;
}

/** The config with the token replaced, safe to log. */
export function redactedConfig(config: Config): Record<string, unknown> {
  return { ...config, authToken: config.authToken === null ? null : '<redacted>' };
}

/** A plain-text table of every variable, for `--help` and the README. */
export function configHelp(): string {
  const rows = Object.values(CONFIG_SCHEMA).map((s: VarSpec<unknown>) =>
    `${s.env}\n    type: ${s.type}; default: ${s.defaultText}; feature: ${s.activatedBy}\n    ${s.doc}`,
  );
  return `Environment variables:\n\n${rows.join('\n\n')}\n`;
}
