// `valori-node doctor`: the checks an operator would otherwise make by hand before (re)starting a
// node, each reported as PASS, FAIL or SKIP: the native addon and its SIMD path, the data
// directories (writable, free space), the existing event log and snapshot (readable, same
// dimension as VALORI_DIM), and the listen address. It reads the files' documented headers
// (docs/EVENT_LOG_FORMAT.md §3, docs/SNAPSHOT_FORMAT.md §1) instead of opening the kernel, which
// would take the log's lock and replay it. Beyond a local bind, the only network calls are a
// follower's two reads of its leader (src/doctor-leader.ts).
import { closeSync, openSync, readSync, statfsSync, statSync, unlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { type Config, ConfigError, loadConfig, MAX_EVENT_BYTES } from './config';
import { checkLeader } from './doctor-leader';
import { formatAddress } from './server';

export type Status = 'PASS' | 'FAIL' | 'SKIP';

export interface Finding {
  status: Status;
  check: string;
  detail: string;
}

const GIB = 1_073_741_824;

/** Loads the addon and asks an empty in-memory kernel which distance kernel this CPU gets. */
export function checkNative(): Finding {
  try {
    // Required here, not at the top, so a missing addon is a finding rather than a crash.
    const { loadNative } = require('./kernel/native') as typeof import('./kernel/native');
    const native = loadNative();
    if (typeof native.Kernel !== 'function') throw new Error('the addon loaded but exports no Kernel: a damaged or mismatched binary');
    const kernel = new native.Kernel({ dim: 1, maxRecords: 0, maxNodes: 0, maxEdges: 0 });
    try {
      return { status: 'PASS', check: 'native addon', detail: `loaded for ${process.platform}-${process.arch}; SIMD path: ${kernel.stats().simd}` };
    } finally {
      kernel.close();
    }
  } catch (err) {
    return { status: 'FAIL', check: 'native addon', detail: (err as Error).message.split('\n')[0] };
  }
}

/** The directories the node writes into: each must exist, take a new file, and have room for one maximal event. */
export function checkDirectories(config: Config): Finding[] {
  const dirs = new Map<string, string[]>();
  for (const [name, file] of [
    ['VALORI_EVENT_LOG_PATH', config.eventLogPath],
    ['VALORI_SNAPSHOT_PATH', config.snapshotPath],
    ['VALORI_WAL_PATH', config.walPath],
    ['VALORI_API_KEYS_FILE', config.apiKeysFile],
  ] as const) {
    if (file === null) continue;
    const dir = dirname(file);
    dirs.set(dir, [...(dirs.get(dir) ?? []), name]);
  }
  if (dirs.size === 0) return [{ status: 'SKIP', check: 'data directories', detail: 'no file paths configured (in-memory node)' }];
  return [...dirs].map(([dir, names]) => {
    const check = `data directory ${dir} (${names.join(', ')})`;
    try {
      if (!statSync(dir).isDirectory()) return { status: 'FAIL', check, detail: 'not a directory' };
    } catch (err) {
      // The node creates files, not their directories: a missing one stops it at boot.
      return { status: 'FAIL', check, detail: `${(err as NodeJS.ErrnoException).code ?? 'error'}: the directory must exist` };
    }
    // A real write, because access(W_OK) says yes to root on a read-only mount.
    const probe = join(dir, `.valori-doctor-${process.pid}`);
    try {
      closeSync(openSync(probe, 'wx'));
      unlinkSync(probe);
    } catch (err) {
      return { status: 'FAIL', check, detail: `cannot create a file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
    }
    const fs = statfsSync(dir);
    const free = Number(fs.bavail) * Number(fs.bsize);
    const text = `writable; ${(free / GIB).toFixed(1)} GiB free`;
    // Below one maximal event, a write can fail mid-append and turn the node read-only.
    if (free < MAX_EVENT_BYTES) return { status: 'FAIL', check, detail: `${text}, below the ${MAX_EVENT_BYTES / 1_048_576} MiB one event may need` };
    return { status: 'PASS', check, detail: text };
  });
}

/** The first `n` bytes of an existing file; null when it does not exist. */
function head(file: string, n: number): Buffer | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const buf = Buffer.alloc(n);
    return buf.subarray(0, readSync(fd, buf, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

function fileFinding(check: string, file: string | null, config: Config, read: (bytes: Buffer) => string | number): Finding {
  if (file === null) return { status: 'SKIP', check, detail: 'not configured' };
  let bytes: Buffer | null;
  try {
    bytes = head(file, 24);
  } catch (err) {
    return { status: 'FAIL', check, detail: `${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  }
  if (bytes === null || bytes.length === 0) return { status: 'SKIP', check, detail: `${file} does not exist yet (the node creates it)` };
  const dim = read(bytes);
  if (typeof dim === 'string') return { status: 'FAIL', check, detail: `${file}: ${dim}` };
  if (dim !== config.dim) return { status: 'FAIL', check, detail: `${file} holds dimension ${dim} but VALORI_DIM is ${config.dim}: the node would refuse to start` };
  return { status: 'PASS', check, detail: `${file} is readable, dimension ${dim}` };
}

/** docs/EVENT_LOG_FORMAT.md §3: magic VALEVLOG, u32 version, u32 dim (little-endian). */
export function checkEventLog(config: Config): Finding {
  return fileFinding('event log', config.eventLogPath, config, (b) => {
    if (b.length < 16 || b.toString('latin1', 0, 8) !== 'VALEVLOG') return 'not an event log (no VALEVLOG header)';
    const version = b.readUInt32LE(8);
    if (version !== 1 && version !== 2) return `event log version ${version}, which this node does not read`;
    return b.readUInt32LE(12);
  });
}

/** docs/SNAPSHOT_FORMAT.md §1: container VAL1, kernel section VNKS at offset 8, its dim at offset 8 + 12. */
export function checkSnapshot(config: Config): Finding {
  return fileFinding('snapshot', config.snapshotPath, config, (b) => {
    if (b.length < 24 || b.toString('latin1', 0, 4) !== 'VAL1') return 'not a snapshot (no VAL1 header)';
    const kernel = b.toString('latin1', 8, 12);
    if (kernel === 'VALK') return "the original node's snapshot format, which this node refuses (docs/SNAPSHOT_FORMAT.md)";
    if (kernel !== 'VNKS') return 'not a snapshot (no VNKS kernel header)';
    return b.readUInt32LE(20);
  });
}

/** Binds VALORI_BIND for a moment: catches a taken port or an address this host does not have. */
export function checkPort(config: Config): Promise<Finding> {
  const address = formatAddress(config.bind.host, config.bind.port);
  const check = `listen address ${address}`;
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve({ status: 'FAIL', check, detail: `cannot bind: ${err.code ?? err.message}` }));
    server.listen(config.bind.port, config.bind.host, () => {
      server.close(() => resolve({ status: 'PASS', check, detail: config.bind.port === 0 ? 'bindable (port 0: a free port is picked at start)' : 'free' }));
    });
  });
}

export async function runDoctor(env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string }> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { code: 1, stdout: `FAIL  configuration: ${err.message}\n` };
  }
  const findings: Finding[] = [
    { status: 'PASS', check: 'configuration', detail: 'valid (valori-node check prints it)' },
    checkNative(),
    ...checkDirectories(config),
    checkEventLog(config),
    checkSnapshot(config),
    await checkPort(config),
    ...(await checkLeader(config)),
  ];
  const failed = findings.filter((f) => f.status === 'FAIL').length;
  const lines = findings.map((f) => `${f.status}  ${f.check}: ${f.detail}`);
  lines.push('', failed === 0 ? 'all checks passed' : `${failed} check${failed === 1 ? '' : 's'} failed`);
  return { code: failed === 0 ? 0 : 1, stdout: `${lines.join('\n')}\n` };
}
