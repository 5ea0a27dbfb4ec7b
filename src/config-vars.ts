// The typed readers every environment variable of src/config.ts is built from: each returns a
// VarSpec (env name, type, default, doc, feature, parse) whose parse refuses a bad value with one
// line naming the variable and what it accepts.
import { tokenProblem } from './auth/tokens';

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

/** The part of the node a variable configures, as shown in `--help` and the README table. */
export type Feature =
  | 'vectors and graph'
  | 'server'
  | 'authentication'
  | 'persistence'
  | 'search index'
  | 'replication'
  | 'request limits'
  | 'cluster';

export interface VarSpec<T> {
  env: string;
  type: string;
  /** Default as shown to operators. */
  defaultText: string;
  doc: string;
  feature: Feature;
  /**
   * `raw` is undefined when the variable is unset (an empty string counts as unset unless
   * `emptyIsValue`); `name` is the name it was read under (`env` or one of `aliases`).
   */
  parse(raw: string | undefined, name?: string): T;
  emptyIsValue?: boolean;
  /** Other names accepted for the same setting, checked in order after `env`. */
  aliases?: readonly string[];
  /** The value is a credential: `valori-node check` and the boot log show only whether it is set. */
  secret?: boolean;
}

function fail(env: string, accepted: string, raw: string): never {
  throw new ConfigError(env, `${env}=${JSON.stringify(raw)} is invalid: expected ${accepted}`);
}

export function uint(
  env: string,
  def: number | null,
  min: number,
  max: number,
  doc: string,
  feature: Feature,
): VarSpec<number> {
  return {
    env,
    type: `integer ${min}..${max}`,
    defaultText: def === null ? '(unset)' : String(def),
    doc,
    feature,
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

export function optionalUint(env: string, min: number, max: number, doc: string, feature: Feature): VarSpec<number | null> {
  const inner = uint(env, 0, min, max, doc, feature);
  return { ...inner, defaultText: '(unset)', parse: (raw) => (raw === undefined ? null : inner.parse(raw)) };
}

export function oneOf<T extends string>(env: string, values: readonly T[], def: T, doc: string, feature: Feature): VarSpec<T> {
  return {
    env,
    type: values.join('|'),
    defaultText: def,
    doc,
    feature,
    parse(raw) {
      if (raw === undefined) return def;
      const v = raw.trim().toLowerCase();
      const found = values.find((x) => x === v);
      if (found === undefined) fail(env, `one of ${values.join(', ')}`, raw);
      return found;
    },
  };
}

export function path(env: string, doc: string, feature: Feature): VarSpec<string | null> {
  return { env, type: 'path', defaultText: '(unset)', doc, feature, parse: (raw) => raw ?? null };
}

export function parseBind(raw: string | undefined): BindAddress {
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
 * VALORI_LOG_LEVEL, or its alias RUST_LOG, in tracing-subscriber form: `valori_node=info`,
 * `valori_node=debug,tower_http=debug` or a bare `info`. Only the bare level and `valori_node[...]`
 * directives concern us; directives for other targets are ignored, as tracing would ignore targets
 * that do not exist here. `env` is the name the value came from, so a refusal names it.
 */
export function parseRustLog(raw: string | undefined, env = 'RUST_LOG'): LogLevel {
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
      // VALORI_LOG_LEVEL has no other crates to name, so there a bare word is a mistyped level.
      else if (env !== 'RUST_LOG' || !/^[A-Za-z0-9_:-]+$/.test(directive)) fail(env, accepted, raw);
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

export function parseFollower(raw: string | undefined): string | null {
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
  // Credentials in the URL would be echoed in every 307 Location and in /v1/replication/state
  // (and fetch refuses such URLs anyway): the follower authenticates with VALORI_AUTH_TOKEN.
  if (url.username !== '' || url.password !== '') {
    throw new ConfigError(env, `${env} must not contain credentials (user:pass@): the follower sends VALORI_AUTH_TOKEN as a bearer token instead`);
  }
  // Paths are appended to this base, so a trailing slash would double up.
  return url.toString().replace(/\/+$/, '');
}

export function bool(env: string, def: boolean, doc: string, feature: Feature): VarSpec<boolean> {
  return {
    env,
    type: 'boolean (true|false|1|0)',
    defaultText: String(def),
    doc,
    feature,
    parse(raw) {
      if (raw === undefined) return def;
      const t = raw.trim().toLowerCase();
      if (t === 'true' || t === '1' || t === 'yes') return true;
      if (t === 'false' || t === '0' || t === 'no') return false;
      fail(env, 'true, false, 1 or 0', raw);
    },
  };
}

/** A bearer token from the environment: trimmed (secret files end in a newline), token68 only. */
export function bearerToken(env: string, doc: string, feature: Feature, unsetText = '(unset)'): VarSpec<string | null> {
  return {
    env,
    type: 'token',
    defaultText: unsetText,
    doc,
    feature,
    emptyIsValue: true,
    secret: true,
    parse(raw) {
      if (raw === undefined) return null;
      const token = raw.trim();
      const problem = tokenProblem(token);
      // The message never quotes the value: it is a secret.
      if (problem !== null) throw new ConfigError(env, `${env} ${problem}: expected a token such as the output of \`openssl rand -hex 32\`, or leave it unset`);
      return token;
    },
  };
}

/** Runs an auth parser (src/auth/tokens.ts) and turns its Error into this variable's one-line refusal. */
export function authList<T>(env: string, type: string, doc: string, parse: (text: string) => T, empty: T): VarSpec<T> {
  return {
    env,
    type,
    defaultText: '(unset)',
    doc,
    feature: 'authentication',
    parse(raw) {
      if (raw === undefined || raw.trim() === '') return empty;
      try {
        return parse(raw);
      } catch (err) {
        throw new ConfigError(env, `${env} is invalid: ${(err as Error).message}`);
      }
    },
  };
}

export function parseAllowedHosts(raw: string): string[] {
  return raw
    .split(',')
    .map((h) => h.trim().toLowerCase().replace(/\.$/, ''))
    .filter((h) => h !== '')
    .map((h) => {
      if (!/^(\[[0-9a-f:.]+\]|[a-z0-9.-]{1,253})$/.test(h)) throw new Error(`${JSON.stringify(h.slice(0, 80))} is not a host name (no port, no scheme; IPv6 in brackets)`);
      return h;
    });
}
