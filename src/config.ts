// One schema for every environment variable the node reads. Each entry carries its env name,
// type, default, doc and the feature it configures, so `--help` and the README table
// are generated from the same source the boot-time validation uses. Native reads no environment.
import { constants as bufferConstants } from 'node:buffer';
import { type ConfiguredKey, parseKeyList } from './auth/tokens';
import { authList, bearerToken, bool, ConfigError, oneOf, optionalUint, parseAllowedHosts, parseBind, parseFollower, parseRustLog, path, uint, type VarSpec } from './config-vars';
import type { BindAddress, IndexKind, LogFormat, LogLevel, QuantKind } from './config-vars';
import { parseMembers, parseNodeId, parseRaftBind, type ClusterMember } from './cluster/members';
import { parseCorsOrigins } from './http/cors';

export { ConfigError, parseRustLog };
export type { BindAddress, Feature, IndexKind, LogFormat, LogLevel, QuantKind } from './config-vars';

const U32_MAX = 4_294_967_295;
// V8 cannot build a string longer than this (2^29 - 24 chars); the JSON body is decoded into one.
const V8_MAX_STRING = 536_870_888;
/** The kernel's cap on one encoded event (a batch insert is one event): 64 MiB. */
export const MAX_EVENT_BYTES = 67_108_864;
// Plain JSON bodies: 16 MiB holds a dim-65,536 vector at 21 bytes per component plus 64 KiB of
// metadata many times over; the heap cost of parsing is bounded by the structure pre-scan.
export const DEFAULT_MAX_BODY_BYTES = 16 * 1_048_576;
// Batch inserts: a batch that fills one event (MAX_EVENT_BYTES / 4 i32 components = 16,777,216)
// at 20 bytes per component, plus 1 MiB for brackets. That also fits a 10,000 x 1,536 batch of
// float32 values widened to double by JSON.stringify (up to 21 bytes, "-0.12345679104328156,"),
// which is what the TypeScript client sends. The parse budget (VALORI_MAX_PARSE_BYTES) and the
// structure pre-scan keep several such bodies from exhausting the heap together.
export const DEFAULT_MAX_BATCH_BODY_BYTES = (MAX_EVENT_BYTES / 4) * 20 + 1_048_576;
// Caps that keep the kernel's per-query allocations (sized from k, ef and nprobe) far from an abort.
const MAX_K_LIMIT = 100_000;
const MAX_EF_LIMIT = 1_000_000;
const MAX_NPROBE_LIMIT = 1_048_576;

export const CONFIG_SCHEMA = {
  dim: uint('VALORI_DIM', 16, 1, 65_536, 'Vector dimension; every vector and query must have exactly this many components.', 'vectors and graph'),
  maxDim: optionalUint('VALORI_MAX_DIM', 1, 65_536, 'Largest dimension POST /v1/namespaces accepts for a new collection (400 above). Unset: 4096, or VALORI_DIM when that is larger. Also bounds the derived snapshot size (VALORI_MAX_SNAPSHOT_BYTES).', 'vectors and graph'),
  maxRecords: uint('VALORI_MAX_RECORDS', 1024, 0, U32_MAX, 'Record capacity (live + soft-deleted); inserts beyond it answer 507. Memory is allocated lazily.', 'vectors and graph'),
  maxNodes: uint('VALORI_MAX_NODES', 1024, 0, U32_MAX, 'Graph-node capacity; node creation beyond it answers 507. 0 disables the graph (every node creation answers 507).', 'vectors and graph'),
  maxEdges: uint('VALORI_MAX_EDGES', 2048, 0, U32_MAX, 'Graph-edge capacity; edge creation beyond it answers 507.', 'vectors and graph'),
  maxMetadataEntries: uint('VALORI_MAX_METADATA_ENTRIES', 100_000, 0, U32_MAX, 'Most metadata entries set with /v1/memory/meta/set (a record\'s payload, rec:<id> and rec:<id>:text, is bounded by VALORI_MAX_RECORDS and counts only toward VALORI_MAX_METADATA_BYTES); a write that would add one more answers 507. Also checked when a snapshot is restored.', 'vectors and graph'),
  maxMetadataBytes: uint('VALORI_MAX_METADATA_BYTES', 256 * 1_048_576, 0, Number.MAX_SAFE_INTEGER, 'Most bytes of metadata in total (keys plus values; overwriting a key counts the difference); a write beyond it answers 507. Also checked when a snapshot is restored.', 'vectors and graph'),
  bind: {
    env: 'VALORI_BIND',
    type: 'host:port',
    defaultText: '127.0.0.1:3000',
    doc: 'Address the HTTP server listens on. Use 0.0.0.0:3000 in containers. Port 0 picks a free port (the readiness line shows it).',
    feature: 'server',
    parse: parseBind,
  } satisfies VarSpec<BindAddress>,
  authToken: bearerToken(
    'VALORI_AUTH_TOKEN',
    'Master bearer token: every route except the public GET /health, /livez, /readyz and /metrics accepts it, whatever its scope (docs/authentication.md). Surrounding whitespace is trimmed; inner whitespace or characters outside RFC 6750 token68 are refused at boot; shorter than 32 characters logs a warning. Unset, with no API keys either: auth disabled (warning "Auth Disabled"; browsers from other sites and unknown Host names are refused).',
    'authentication',
  ),
  apiKeys: {
    ...authList(
      'VALORI_API_KEYS',
      'name:scope:sha256hex,...',
      'Scoped API keys, comma-separated: a name, a scope (read, write or admin) and the SHA-256 of the token in hex (printf %s "$TOKEN" | sha256sum). Only the hash is configured; the caller sends the token.',
      parseKeyList,
      [] as ConfiguredKey[],
    ),
    // A token's unsalted hash is enough to test guesses offline, so it is kept out of output too.
    secret: true,
  },
  apiKeysFile: path('VALORI_API_KEYS_FILE', 'JSON file of API keys (hashes only) that POST /v1/keys and DELETE /v1/keys/:id rewrite atomically; read at start, created on the first key. Without it keys cannot be created through the API.', 'authentication'),
  leaderToken: bearerToken(
    'VALORI_LEADER_TOKEN',
    'Follower only: the token the follower sends to its leader. Defaults to VALORI_AUTH_TOKEN; a read-scope API key of the leader is enough.',
    'replication',
    '(VALORI_AUTH_TOKEN)',
  ),
  allowedHosts: authList(
    'VALORI_ALLOWED_HOSTS',
    'host,host,...',
    'With auth off only: extra Host names (no port) the node answers besides localhost, 127.0.0.1, [::1] and the bind address; other Host headers answer 421 (DNS rebinding).',
    parseAllowedHosts,
    [] as string[],
  ),
  corsOrigins: {
    env: 'VALORI_CORS_ORIGINS',
    type: 'origin,origin,... or *',
    defaultText: '(unset)',
    doc: 'Web pages allowed to call the node from a browser (CORS): exact origins as the browser sends them (https://app.example.com, http://localhost:5173), comma-separated, or * for any page. Their preflights (OPTIONS) are answered before authentication, and responses to them carry Access-Control-Allow-Origin; requests still need the token. Unset: no CORS headers. With auth off, listed origins pass the browser guard (a warning is logged at boot) and * is refused.',
    feature: 'server',
    parse: parseCorsOrigins,
  } satisfies VarSpec<string[]>,
  eventLogPath: path('VALORI_EVENT_LOG_PATH', 'Event log file; every mutation is appended (fsync) before it is acknowledged and replayed at start-up.', 'persistence'),
  snapshotPath: path('VALORI_SNAPSHOT_PATH', 'Snapshot file written by POST /v1/snapshot/save and the auto-snapshot task; recovery fallback.', 'persistence'),
  snapshotIntervalSecs: optionalUint('VALORI_SNAPSHOT_INTERVAL', 1, U32_MAX, 'Auto-snapshot period in seconds (requires VALORI_SNAPSHOT_PATH).', 'persistence'),
  checkpoint: oneOf<'on' | 'off'>('VALORI_CHECKPOINT', ['on', 'off'], 'on', 'Automatic checkpoints with an event log (VALORI_EVENT_LOG_PATH): a snapshot including the index is written in the background once VALORI_CHECKPOINT_EVENTS events or VALORI_CHECKPOINT_BYTES bytes were logged since the last one, so a restart replays only the tail. Written to VALORI_SNAPSHOT_PATH, or <event log path>.snapshot when that is unset; the event log is never trimmed by it. off: replay the whole log at start-up, as before.', 'persistence'),
  checkpointEvents: uint('VALORI_CHECKPOINT_EVENTS', 1_000, 0, U32_MAX, 'Events logged since the last checkpoint that trigger the next one (a tenth of it once writes pause for a second); 0 disables this trigger. The default bounds the replay of single inserts to about a second at dim 784 with HNSW (docs/operations.md).', 'persistence'),
  checkpointBytes: uint('VALORI_CHECKPOINT_BYTES', 4 * 1_048_576, 0, Number.MAX_SAFE_INTEGER, 'Bytes logged since the last checkpoint that trigger the next one (a tenth of it once writes pause for a second; batch inserts are few events but many bytes); 0 disables this trigger. The default, 4 MiB, replays in about a second at dim 784 with HNSW (docs/operations.md).', 'persistence'),
  acceptTruncation: bool('VALORI_ACCEPT_LOG_TRUNCATION', false, 'On mid-log corruption (a bad entry followed by valid ones), cut the event log at the last good entry and start, instead of refusing to start. Events after the damage are lost: use only after taking a copy of the file.', 'persistence'),
  snapshotOnShutdown: bool('VALORI_SNAPSHOT_ON_SHUTDOWN', true, 'Write a final snapshot on SIGTERM/SIGINT when VALORI_SNAPSHOT_PATH is set or checkpoints are on (bounds the next start-up replay).', 'persistence'),
  maxNamedSnapshots: uint('VALORI_MAX_NAMED_SNAPSHOTS', 16, 0, 10_000, 'Most named snapshots (POST /v1/snapshot/save {"path": name}) kept in <snapshot dir>/snapshots/; a save under a new name beyond it answers 507 (overwriting an existing name is allowed). 0 disables named saves.', 'persistence'),
  maxSnapshotBytes: optionalUint('VALORI_MAX_SNAPSHOT_BYTES', 1_048_576, Number.MAX_SAFE_INTEGER, 'Largest snapshot in bytes a node accepts: POST /v1/snapshot/upload (413 above), a follower\'s bootstrap download (aborted above), a named restore. Unset: derived from the limits, see docs/operations.md (max_records x (max collection dim x 4 + 9) + index + graph + metadata + 16 MiB), at most the largest Buffer Node can hold.', 'persistence'),
  walPath: path('VALORI_WAL_PATH', 'Legacy write-ahead log; ignored when VALORI_EVENT_LOG_PATH is set.', 'persistence'),
  index: oneOf<IndexKind>('VALORI_INDEX', ['brute', 'hnsw', 'ivf'], 'brute', 'Search index: brute (exact scan), hnsw or ivf (approximate).', 'search index'),
  quant: oneOf<QuantKind>('VALORI_QUANT', ['none', 'scalar', 'product'], 'none', 'Vector quantization applied before indexing.', 'search index'),
  hnswM: uint('VALORI_HNSW_M', 16, 2, 128, 'HNSW links per node per layer (layer 0 keeps 2*M). 128 is the most the kernel builds with.', 'search index'),
  hnswEfConstruction: uint('VALORI_HNSW_EF_CONSTRUCTION', 100, 1, 100_000, 'HNSW candidate list size while building.', 'search index'),
  hnswEfSearch: uint('VALORI_HNSW_EF_SEARCH', 100, 1, 100_000, 'HNSW candidate list size per query (raised to k when k is larger); a request may override it with "ef".', 'search index'),
  ivfNlist: uint('VALORI_IVF_NLIST', 0, 0, 1_048_576, 'IVF partitions; 0 = automatic, about sqrt(number of records).', 'search index'),
  indexThreads: uint('VALORI_INDEX_THREADS', 0, 0, 1024, 'Threads that build indexes (batch inserts, replay of batches, rebuilds, IVF/PQ training); 0 = every available core. Node-local: the built index and every search result are the same for any value (docs/index-formats.md, "Parallel construction").', 'search index'),
  ivfNprobe: uint('VALORI_IVF_NPROBE', 8, 1, 1_048_576, 'IVF partitions probed per query; a request may override it with "nprobe".', 'search index'),
  followerOf: {
    env: 'VALORI_FOLLOWER_OF',
    type: 'URL',
    defaultText: '(unset)',
    doc: 'Leader base URL; when set the node runs as a read-only follower of that leader (writes answer 307 to it). Requires VALORI_EVENT_LOG_PATH. The follower authenticates to the leader with VALORI_LEADER_TOKEN (default: VALORI_AUTH_TOKEN).',
    feature: 'replication',
    parse: parseFollower,
  } satisfies VarSpec<string | null>,
  replicationCheckIntervalMs: uint('VALORI_REPLICATION_CHECK_INTERVAL_MS', 5_000, 10, 86_400_000, 'Follower only: how often (ms) the follower compares its state hash with the leader\'s at the same height (Synced or Diverged).', 'replication'),
  replicationHeartbeatMs: uint('VALORI_REPLICATION_HEARTBEAT_MS', 10_000, 10, 3_600_000, 'Heartbeat period (ms) of an idle replication stream, at most 100,000 in effect (Node\'s fetch drops a body silent for 300 s); a follower drops a stream that is silent for 3 periods and reconnects.', 'replication'),
  readyMaxLag: uint('VALORI_READY_MAX_LAG', 1_000, 0, 1_000_000_000, 'Follower only: most events this follower may be behind its leader and still answer 200 on GET /readyz (a follower not streaming from its leader is never ready). 0: ready only when fully caught up.', 'replication'),
  maxBodyBytes: uint('VALORI_MAX_BODY_BYTES', DEFAULT_MAX_BODY_BYTES, 1, V8_MAX_STRING, 'Largest accepted JSON request body in bytes on every route but batch inserts (413 above). Compressed bodies (Content-Encoding) are refused with 415.', 'request limits'),
  maxBatchBodyBytes: uint('VALORI_MAX_BATCH_BODY_BYTES', DEFAULT_MAX_BATCH_BODY_BYTES, 1, V8_MAX_STRING, `Largest accepted JSON body of /v1/vectors/batch_insert and /v1/memory/insert_batch (413 above). The default (${DEFAULT_MAX_BATCH_BODY_BYTES}, 321 MiB) fits a batch that fills one ${MAX_EVENT_BYTES}-byte event at 20 bytes per component; a batch whose rows x dim x 4 exceeds that event limit answers 413 whatever its body size.`, 'request limits'),
  maxBatchRows: uint('VALORI_MAX_BATCH_ROWS', 10_000, 1, 1_000_000, 'Most rows one batch insert accepts (400 above).', 'request limits'),
  maxParseBytes: uint('VALORI_MAX_PARSE_BYTES', 512 * 1_048_576, 1_048_576, 4 * 1_073_741_824, 'Total bytes of JSON bodies held at the same time while they are read and parsed (counted as they arrive, so a client that declares a large body and trickles it holds only what it sent; a declared Content-Length that cannot fit is refused before reading); above it a request answers 503 SERVER_BUSY with Retry-After. Bounds the heap two or three concurrent maximum-size batches could take. Must be at least VALORI_MAX_BODY_BYTES and VALORI_MAX_BATCH_BODY_BYTES.', 'request limits'),
  maxK: uint('VALORI_MAX_K', 10_000, 1, MAX_K_LIMIT, 'Largest k a search accepts (400 above).', 'request limits'),
  maxEf: uint('VALORI_MAX_EF', 10_000, 1, MAX_EF_LIMIT, 'Largest "ef" (HNSW candidate list) a search request accepts (400 above).', 'request limits'),
  maxNprobe: uint('VALORI_MAX_NPROBE', 65_536, 1, MAX_NPROBE_LIMIT, 'Largest "nprobe" (IVF partitions probed) a search request accepts (400 above).', 'request limits'),
  maxResponseBytes: uint('VALORI_MAX_RESPONSE_BYTES', 64 * 1_048_576, 65_536, V8_MAX_STRING, 'Largest answer in bytes of a search that returns payloads (the memory searches, and searches with include or with_metadata: hits plus their metadata, text and vectors); above it the request answers 413 RESPONSE_TOO_LARGE (ask for a smaller k or fewer fields).', 'request limits'),
  requestTimeoutMs: uint('VALORI_REQUEST_TIMEOUT_MS', 120_000, 1_000, 86_400_000, 'Deadline (ms) for receiving a whole request, headers and body; a slower client gets 408 and its socket closes. Raise it for large snapshot uploads over slow links.', 'request limits'),
  idleTimeoutMs: uint('VALORI_IDLE_TIMEOUT_MS', 30_000, 100, 86_400_000, 'A socket with no traffic in either direction for this long (ms) is closed, mid-body included (replication streams send heartbeats, so they stay open).', 'request limits'),
  maxConnections: uint('VALORI_MAX_CONNECTIONS', 4_096, 1, 1_000_000, 'Most simultaneous TCP connections; further connections are closed on accept. Keep it below the process file-descriptor limit.', 'request limits'),
  maxStreams: uint('VALORI_MAX_STREAMS', 16, 1, 10_000, 'Most concurrent replication event streams (GET /v1/replication/events) a leader serves; more answer 429 TOO_MANY_STREAMS.', 'replication'),
  logFormat: oneOf<LogFormat>('VALORI_LOG_FORMAT', ['auto', 'json', 'pretty'], 'auto', 'Log format: json, pretty, or auto (pretty on a terminal, JSON otherwise).', 'server'),
  accessLog: oneOf<'on' | 'off'>('VALORI_ACCESS_LOG', ['on', 'off'], 'on', 'One info line per HTTP request (request id, method, route template, status, error code, ms, bytes; never headers, bodies or query strings): on or off. Audit lines for admin calls are written either way (docs/operations.md).', 'server'),
  logLevel: {
    env: 'VALORI_LOG_LEVEL',
    aliases: ['RUST_LOG'],
    type: 'log level or filter',
    defaultText: 'info',
    doc: 'Log level: off, error, warn, info, debug or trace (the most verbose), or a filter in tracing-subscriber form (valori_node=info, valori_node=debug,tower_http=debug). RUST_LOG is accepted as an alias; VALORI_LOG_LEVEL wins when both are set.',
    feature: 'server',
    parse: (raw: string | undefined, name?: string) => parseRustLog(raw, name ?? 'VALORI_LOG_LEVEL'),
  } satisfies VarSpec<LogLevel>,
  clusterMembers: {
    env: 'VALORI_CLUSTER_MEMBERS',
    type: 'id=raft_host:port/api_host:port,...',
    defaultText: '(unset: standalone)',
    doc: 'Turns Raft cluster mode on (docs/CLUSTER.md): the members a new cluster starts with, each as its node id, its Raft address and its HTTP API address (host:port or http(s)://host:port). After the first start the membership lives in the Raft log and changes through POST /v1/cluster/add-node and remove-node. Requires VALORI_NODE_ID, VALORI_EVENT_LOG_PATH and a token (VALORI_CLUSTER_TOKEN or VALORI_AUTH_TOKEN); refused with VALORI_FOLLOWER_OF.',
    feature: 'cluster',
    parse: parseMembers,
  } satisfies VarSpec<ClusterMember[] | null>,
  nodeId: {
    env: 'VALORI_NODE_ID',
    type: 'integer 1..2^53-1',
    defaultText: '(unset)',
    doc: 'Cluster mode: this node\'s id, one of VALORI_CLUSTER_MEMBERS (or the id an add-node call gives it). Ids are never reused: a wiped or replaced node joins under a new id.',
    feature: 'cluster',
    parse: (raw: string | undefined) => (raw === undefined ? null : parseNodeId(raw, 'VALORI_NODE_ID')),
  } satisfies VarSpec<number | null>,
  clusterInit: bool('VALORI_CLUSTER_INIT', false, 'Cluster mode: set to 1 on exactly one node of a new cluster; it initializes the cluster with VALORI_CLUSTER_MEMBERS when its Raft log is empty (ignored afterwards, so it may stay set).', 'cluster'),
  raftBind: {
    env: 'VALORI_RAFT_BIND',
    type: 'ip:port',
    defaultText: "(this node's Raft address in VALORI_CLUSTER_MEMBERS)",
    doc: 'Cluster mode: the address the Raft listener binds (node-to-node traffic, token-authenticated). Use 0.0.0.0:PORT in containers.',
    feature: 'cluster',
    parse: parseRaftBind,
  } satisfies VarSpec<string | null>,
  raftDir: path('VALORI_RAFT_LOG_PATH', "Cluster mode: the directory for the vote, the purge point, Raft snapshots and snapshots being received. Default: <VALORI_EVENT_LOG_PATH>.raft. The Raft log itself is VALORI_EVENT_LOG_PATH (the original's name for this variable is kept).", 'cluster'),
  clusterToken: {
    ...bearerToken('VALORI_CLUSTER_TOKEN', 'Cluster mode: the token every node presents on the Raft port; a connection without it is refused. Must be the same on every member.', 'cluster', '(VALORI_AUTH_TOKEN)'),
    secret: true,
  },
  raftHeartbeatMs: uint('VALORI_RAFT_HEARTBEAT_MS', 100, 10, 60_000, 'Cluster mode: how often (ms) the leader sends heartbeats. Must be well below VALORI_RAFT_ELECTION_TIMEOUT_MS.', 'cluster'),
  raftElectionTimeoutMs: uint('VALORI_RAFT_ELECTION_TIMEOUT_MS', 500, 50, 600_000, "Cluster mode: the election timeout t (ms). A follower that hears no leader starts an election between 2.5 t and 3 t after the last heartbeat (a random time in [t, 1.5 t) after openraft's leader lease of 1.5 t), so the default fails over in about 1.5 s. Lower: faster failover; too low: needless elections when heartbeats are delayed under load.", 'cluster'),
  raftSnapshotEvery: uint('VALORI_SNAPSHOT_EVERY_EVENTS', 10_000, 1, U32_MAX, 'Cluster mode: a Raft snapshot of the state is built every this many log entries; the log it covers is then purged (keeping VALORI_RAFT_SNAPSHOT_KEEP entries), and lagging or new nodes receive it.', 'cluster'),
  raftSnapshotKeep: uint('VALORI_RAFT_SNAPSHOT_KEEP', 1_000, 0, U32_MAX, 'Cluster mode: log entries kept behind a snapshot, so a follower a little behind catches up from the log instead of a whole snapshot.', 'cluster'),
  readConsistency: oneOf<'linearizable' | 'local'>('VALORI_READ_CONSISTENCY', ['linearizable', 'local'], 'linearizable', 'Cluster mode: the default of reads. linearizable: a read sees every write acknowledged before it began, on any node (the leader confirms its leadership; a follower first catches up to the leader\'s commit index). local: this node\'s state as it is. A request overrides it with ?consistency= or a body "consistency".', 'cluster'),
  clusterCommitTimeoutMs: uint('VALORI_CLUSTER_COMMIT_TIMEOUT_MS', 10_000, 100, 3_600_000, 'Cluster mode: how long (ms) a write waits for its commit; after it the write answers 503 LEADER_CHANGED (outcome unknown: retry with the same Idempotency-Key). The same bound applies to a linearizable read waiting for the leader.', 'cluster'),
} as const;

type Schema = typeof CONFIG_SCHEMA;
export type Config = { readonly [K in keyof Schema]: ReturnType<Schema[K]['parse']> };

/**
 * The raw text of one variable and the name it was found under (`env` first, then its aliases),
 * or undefined when it is unset; an empty string counts as unset unless the spec says otherwise.
 * loadConfig and `valori-node check` both read through it, so they agree on what is "set".
 */
export function readVar(spec: VarSpec<unknown>, env: NodeJS.ProcessEnv): { name: string; raw: string } | undefined {
  for (const name of [spec.env, ...(spec.aliases ?? [])]) {
    const raw = env[name];
    if (raw !== undefined && (raw !== '' || spec.emptyIsValue === true)) return { name, raw };
  }
  return undefined;
}

/** Reads and validates every variable; throws ConfigError on the first bad one. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(CONFIG_SCHEMA) as [string, VarSpec<unknown>][]) {
    const found = readVar(spec, env);
    out[key] = found === undefined ? spec.parse(undefined) : spec.parse(found.raw, found.name);
  }
  const config = out as Config;
  if (config.snapshotIntervalSecs !== null && config.snapshotPath === null) {
    throw new ConfigError('VALORI_SNAPSHOT_INTERVAL', 'VALORI_SNAPSHOT_INTERVAL is set but VALORI_SNAPSHOT_PATH is not: expected both, or neither');
  }
  if (config.maxParseBytes < Math.max(config.maxBodyBytes, config.maxBatchBodyBytes)) {
    // A body that may be accepted must also fit the parse budget alone, or it would get 503 for ever.
    throw new ConfigError(
      'VALORI_MAX_PARSE_BYTES',
      `VALORI_MAX_PARSE_BYTES=${config.maxParseBytes} is below VALORI_MAX_BODY_BYTES (${config.maxBodyBytes}) or VALORI_MAX_BATCH_BODY_BYTES (${config.maxBatchBodyBytes}): expected at least the larger of the two`,
    );
  }
  if (config.maxDim !== null && config.maxDim < config.dim) {
    throw new ConfigError('VALORI_MAX_DIM', `VALORI_MAX_DIM=${config.maxDim} is below VALORI_DIM (${config.dim}): expected at least VALORI_DIM, since the default collection has that dimension`);
  }
  if (config.corsOrigins.includes('*') && config.authToken === null && config.apiKeys.length === 0 && config.apiKeysFile === null) {
    // With auth off the browser guard is all that keeps other sites' pages out; * would switch it off.
    throw new ConfigError('VALORI_CORS_ORIGINS', 'VALORI_CORS_ORIGINS=* while auth is off would let every web page read and write this node: list exact origins, or set VALORI_AUTH_TOKEN');
  }
  if (config.followerOf !== null && config.eventLogPath === null) {
    // Without its own log a follower could not resume after a restart (and would re-bootstrap
    // or stop silently, as the original did), so it is refused at boot.
    throw new ConfigError('VALORI_FOLLOWER_OF', 'VALORI_FOLLOWER_OF is set but VALORI_EVENT_LOG_PATH is not: a follower needs its own event log (e.g. VALORI_EVENT_LOG_PATH=/data/events.log)');
  }
  checkCluster(config);
  return config;
}

/** The cluster settings as one whole, or null on a standalone node. */
export interface ClusterSettings {
  nodeId: number;
  members: ClusterMember[];
  init: boolean;
  raftBind: string;
  raftDir: string;
  logPath: string;
  token: string;
}

/** Cluster mode's variables must agree with each other and with the rest (docs/CLUSTER.md). */
function checkCluster(config: Config): void {
  const members = config.clusterMembers;
  if (members === null) {
    const stray = ([
      ['VALORI_NODE_ID', config.nodeId !== null],
      ['VALORI_CLUSTER_INIT', config.clusterInit],
      ['VALORI_RAFT_BIND', config.raftBind !== null],
    ] as const).find(([, set]) => set);
    if (stray !== undefined) throw new ConfigError(stray[0], `${stray[0]} is set but VALORI_CLUSTER_MEMBERS is not: cluster mode needs the members (e.g. VALORI_CLUSTER_MEMBERS=1=10.0.0.1:3100/10.0.0.1:3000,2=…)`);
    return;
  }
  const fail = (name: string, message: string): never => {
    throw new ConfigError(name, message);
  };
  if (config.nodeId === null) fail('VALORI_NODE_ID', 'VALORI_CLUSTER_MEMBERS is set but VALORI_NODE_ID is not: every cluster node needs its id');
  const self = members.find((m) => m.id === config.nodeId);
  if (self === undefined) fail('VALORI_NODE_ID', `VALORI_NODE_ID=${config.nodeId} is not one of VALORI_CLUSTER_MEMBERS (${members.map((m) => m.id).join(', ')}): list this node too`);
  if (config.followerOf !== null) fail('VALORI_FOLLOWER_OF', 'VALORI_FOLLOWER_OF and VALORI_CLUSTER_MEMBERS are both set: a node is either a stream follower or a cluster member (read replicas follow a cluster member with VALORI_FOLLOWER_OF alone)');
  if (config.eventLogPath === null) fail('VALORI_EVENT_LOG_PATH', 'VALORI_CLUSTER_MEMBERS is set but VALORI_EVENT_LOG_PATH is not: a cluster member keeps its Raft log there (there is no in-memory cluster)');
  if (config.acceptTruncation) fail('VALORI_ACCEPT_LOG_TRUNCATION', 'VALORI_ACCEPT_LOG_TRUNCATION=true is refused in cluster mode: a member that cut its log could forget entries it acknowledged; replace a damaged member with a new one (docs/CLUSTER.md)');
  if (config.snapshotIntervalSecs !== null) fail('VALORI_SNAPSHOT_INTERVAL', 'VALORI_SNAPSHOT_INTERVAL is refused in cluster mode: Raft snapshots follow VALORI_SNAPSHOT_EVERY_EVENTS');
  if (config.clusterToken === null && config.authToken === null) fail('VALORI_CLUSTER_TOKEN', 'cluster mode needs a token for the Raft port: set VALORI_CLUSTER_TOKEN (or VALORI_AUTH_TOKEN), the same on every member');
  if (config.raftHeartbeatMs * 3 > config.raftElectionTimeoutMs) fail('VALORI_RAFT_HEARTBEAT_MS', `VALORI_RAFT_HEARTBEAT_MS=${config.raftHeartbeatMs} is too close to VALORI_RAFT_ELECTION_TIMEOUT_MS=${config.raftElectionTimeoutMs}: expected at most a third of it, or followers start elections while the leader is alive`);
  if (config.raftBind === null && !/^(\d{1,3}(\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):\d+$/.test(self!.raftAddr)) {
    fail('VALORI_RAFT_BIND', `node ${self!.id}'s Raft address ${self!.raftAddr} is a name, not an IP address: set VALORI_RAFT_BIND to the address to listen on (e.g. 0.0.0.0:${self!.raftAddr.split(':').pop()})`);
  }
}

/** The cluster settings of a validated config, or null when it runs standalone. */
export function clusterSettings(config: Config): ClusterSettings | null {
  if (config.clusterMembers === null || config.nodeId === null || config.eventLogPath === null) return null;
  const nodeId = config.nodeId;
  const self = config.clusterMembers.find((m) => m.id === nodeId);
  return {
    nodeId,
    members: config.clusterMembers,
    init: config.clusterInit,
    raftBind: config.raftBind ?? self?.raftAddr ?? '',
    raftDir: config.raftDir ?? `${config.eventLogPath}.raft`,
    logPath: config.eventLogPath,
    token: config.clusterToken ?? config.authToken ?? '',
  };
}

/** Framing, section headers, the JSON info section and the holes hard deletes leave. */
const SNAPSHOT_HEADROOM = 16 * 1_048_576;

/**
 * VALORI_MAX_SNAPSHOT_BYTES, or the largest snapshot this configuration can produce: every record
 * slot (dim x 4 + 9 bytes), an index over them (codes up to dim x 4, HNSW links (4M + 2) x 4 and
 * 16 bytes of bookkeeping per record), the graph (6 bytes per node, 10 per edge), the metadata
 * caps (VALORI_MAX_METADATA_BYTES and _ENTRIES) and fixed headroom. Never more than the largest Buffer this Node can allocate.
 */
export function maxSnapshotBytes(config: Config): number {
  // Records may live in any collection, so each is counted at the widest dimension a collection may have.
  const dim = maxCollectionDim(config);
  const derived =
    config.maxRecords * (dim * 4 + 9) +
    config.maxRecords * (dim * 4 + (4 * config.hnswM + 2) * 4 + 16) +
    config.maxNodes * 6 +
    config.maxEdges * 10 +
    // Metadata at its caps: every key + value byte plus 8 bytes of length words per entry.
    config.maxMetadataBytes + 8 * config.maxMetadataEntries +
    SNAPSHOT_HEADROOM;
  return Math.min(config.maxSnapshotBytes ?? derived, bufferConstants.MAX_LENGTH);
}

/** The largest dimension a collection may be created with (VALORI_MAX_DIM, or its default). */
export function maxCollectionDim(config: Config): number {
  return config.maxDim ?? Math.max(4096, config.dim);
}

/** A plain-text table of every variable, for `--help` and the README. */
export function configHelp(): string {
  const rows = Object.values(CONFIG_SCHEMA).map((s: VarSpec<unknown>) =>
    `${s.env}\n    type: ${s.type}; default: ${s.defaultText}; feature: ${s.feature}\n    ${s.doc}`,
  );
  return `Environment variables:\n\n${rows.join('\n\n')}\n`;
}
