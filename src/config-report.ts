// The effective configuration as operators see it: every variable with its value and where the
// value came from, secrets shown only as set or unset, and the VALORI_* names in the environment
// that the node does not know (with the closest known name). `valori-node check` prints it and
// the server logs it at boot (src/main.ts), from these same functions so the two cannot differ.
import { CONFIG_SCHEMA, type Config, maxCollectionDim, maxSnapshotBytes, readVar } from './config';
import type { LogLevel, VarSpec } from './config-vars';
import type { Logger } from './log';
import { formatAddress } from './server';

export const REDACTED = '(set, redacted)';

export interface ReportEntry {
  /** The variable's schema name, e.g. VALORI_DIM. */
  variable: string;
  /** The value in effect, as text; secrets are REDACTED. */
  value: string;
  /** "environment" (with the alias when the value came under another name) or "default". */
  source: string;
  /** What an unset variable amounts to when its default is derived from other settings. */
  inEffect?: string;
}

export interface UnknownVariable {
  name: string;
  /** The closest known variable name, when one is close enough to be a likely typo. */
  suggestion: string | null;
}

// A safety net for variables added without `secret: true`: names that by convention carry
// credentials are redacted too (VALORI_API_KEYS_FILE ends in _FILE: it is a path, not a secret).
const SECRET_NAME = /TOKEN|SECRET|PASSWORD|PASSPHRASE|CREDENTIAL|(^|_)KEYS?$|_HEADERS$/;

/** True when the variable's value must never be printed or logged. */
export function isSecret(spec: VarSpec<unknown>): boolean {
  return spec.secret === true || [spec.env, ...(spec.aliases ?? [])].some((n) => SECRET_NAME.test(n));
}

// The parsed level uses the logger's names; operators wrote tracing's.
const LEVEL_NAMES: Record<LogLevel, string> = { silent: 'off', error: 'error', warn: 'warn', info: 'info', debug: 'debug', silly: 'trace' };

// A list item: a cluster member in the form VALORI_CLUSTER_MEMBERS takes, anything else as text.
function showItem(item: unknown): string {
  if (typeof item === 'object' && item !== null && 'id' in item && 'raftAddr' in item && 'apiAddr' in item) {
    const m = item as { id: number; raftAddr: string; apiAddr: string };
    return `${m.id}=${m.raftAddr}/${m.apiAddr}`;
  }
  return String(item);
}

function show(key: string, value: unknown): string {
  if (value === null || value === undefined) return '(unset)';
  if (key === 'logLevel') return LEVEL_NAMES[value as LogLevel] ?? String(value);
  if (Array.isArray(value)) return value.length === 0 ? '(none)' : value.map(showItem).join(',');
  if (typeof value === 'object' && 'host' in value && 'port' in value) {
    const { host, port } = value as { host: string; port: number };
    return formatAddress(host, port);
  }
  return String(value);
}

/** Every variable of the schema, in schema order, with its value in effect under `config`. */
export function configReport(config: Config, env: NodeJS.ProcessEnv): ReportEntry[] {
  return (Object.entries(CONFIG_SCHEMA) as [keyof Config, VarSpec<unknown>][]).map(([key, spec]) => {
    const found = readVar(spec, env);
    const source = found === undefined ? 'default' : found.name === spec.env ? 'environment' : `environment (${found.name})`;
    let value: string;
    if (isSecret(spec)) value = found === undefined ? spec.defaultText : REDACTED;
    else value = found === undefined ? spec.defaultText : show(key, config[key]);
    const entry: ReportEntry = { variable: spec.env, value, source };
    if (found === undefined && key === 'maxDim') entry.inEffect = String(maxCollectionDim(config));
    if (found === undefined && key === 'maxSnapshotBytes') entry.inEffect = String(maxSnapshotBytes(config));
    return entry;
  });
}

/** Levenshtein distance: insertions, deletions and substitutions each cost 1. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

/**
 * VALORI_* names in `env` that no variable of the schema reads (they would be silently ignored),
 * sorted, each with the nearest known name when it is within a quarter of the name's length (at
 * least 2 edits): VALORI_DIMS -> VALORI_DIM. Names are compared upper-cased, since
 * `valori_dim` is as likely a slip as `VALORI_DIMS`; ties go to the name first in the schema.
 */
export function unknownVariables(env: NodeJS.ProcessEnv): UnknownVariable[] {
  const known = Object.values(CONFIG_SCHEMA).flatMap((s: VarSpec<unknown>) => [s.env, ...(s.aliases ?? [])]);
  const knownSet = new Set(known);
  return Object.keys(env)
    .filter((name) => name.toUpperCase().startsWith('VALORI_') && !knownSet.has(name))
    .sort()
    .map((name) => {
      let suggestion: string | null = null;
      let best = Math.max(2, Math.floor(name.length / 4));
      for (const candidate of known) {
        const d = editDistance(name.toUpperCase(), candidate);
        if (d <= best && (suggestion === null || d < best)) {
          suggestion = candidate;
          best = d;
        }
      }
      return { name, suggestion };
    });
}

/** One line per unknown variable; it names the variable, never its value (it may be a mistyped secret). */
export function unknownWarning(u: UnknownVariable): string {
  return `${u.name} is not a variable valori-node reads and is ignored` + (u.suggestion === null ? ' (valori-node --help lists them)' : `; did you mean ${u.suggestion}?`);
}

/** At boot: the redacted configuration as one info line, then one warning per unknown VALORI_* name. */
export function logConfiguration(logger: Logger, config: Config, env: NodeJS.ProcessEnv): void {
  const report = configReport(config, env);
  const values: Record<string, string> = {};
  for (const e of report) values[e.variable] = e.inEffect === undefined ? e.value : `${e.value} (in effect: ${e.inEffect})`;
  const fromEnv = report.filter((e) => e.source !== 'default').map((e) => e.source === 'environment' ? e.variable : `${e.variable} (${e.source.slice('environment ('.length, -1)})`);
  logger.info(`configuration: ${fromEnv.length === 0 ? 'all defaults' : `set in the environment: ${fromEnv.join(', ')}; the rest are defaults`}`, { config: values });
  for (const u of unknownVariables(env)) logger.warn(unknownWarning(u));
}
