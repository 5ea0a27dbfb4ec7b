// Turns a failure to load the native addon into a message an operator can act on. The
// napi-generated loader (native/index.js, never hand-edited) says "Cannot find native binding"
// and blames an npm bug whatever the cause; here we name the platform, whether a prebuilt binary
// exists for it, and which package provides it. The loader's own attempts stay in the message.

const PACKAGE = require('../../package.json') as { name: string; version: string; napi: { targets: string[] } };

/** napi's platform suffix of a Rust target triple: x86_64-pc-windows-msvc → win32-x64-msvc. */
export function napiSuffix(triple: string): string {
  const [arch, , os, abi] = triple.split('-');
  const cpu = ({ x86_64: 'x64', aarch64: 'arm64' } as Record<string, string>)[arch] ?? arch;
  const platform = os === 'windows' ? 'win32' : os;
  return abi === undefined ? `${platform}-${cpu}` : `${platform}-${cpu}-${abi}`;
}

/** Platforms with a prebuilt package (napi.targets); key is the napi platform suffix. */
const PREBUILT: Readonly<Record<string, string>> = Object.fromEntries(
  PACKAGE.napi.targets.map((t) => [napiSuffix(t), `${PACKAGE.name}-${napiSuffix(t)}`]),
);

export interface HostInfo {
  platform: string;
  arch: string;
  /** 'gnu' (glibc) or 'musl' on Linux, null elsewhere. */
  libc: 'gnu' | 'musl' | null;
  glibcVersion: string | null;
  node: string;
}

export function hostInfo(): HostInfo {
  let glibcVersion: string | null = null;
  if (process.platform === 'linux' && process.report !== undefined) {
    // Skips resolving open sockets' addresses, which can stall on DNS (Node >= 20.13 knows this flag).
    (process.report as { excludeNetwork?: boolean }).excludeNetwork = true;
    const header = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header;
    glibcVersion = header?.glibcVersionRuntime ?? null;
  }
  return {
    platform: process.platform,
    arch: process.arch,
    libc: process.platform !== 'linux' ? null : glibcVersion !== null ? 'gnu' : 'musl',
    glibcVersion,
    node: process.version,
  };
}

/** The napi suffix of this host, e.g. linux-x64-gnu, darwin-arm64 or win32-x64-msvc. */
export function platformKey(host: HostInfo): string {
  // Node for Windows is built with MSVC, and so is the package it loads.
  if (host.platform === 'win32') return `win32-${host.arch}-msvc`;
  return host.libc === null ? `${host.platform}-${host.arch}` : `${host.platform}-${host.arch}-${host.libc}`;
}

/** First line of every error in the loader's cause chain (what it tried, and why each failed). */
function attempts(err: unknown): string[] {
  const out: string[] = [];
  let cur: unknown = (err as { cause?: unknown } | null)?.cause;
  for (let depth = 0; cur != null && depth < 20; depth++) {
    const message = cur instanceof Error ? cur.message : String(cur);
    out.push(message.split('\n')[0]);
    cur = (cur as { cause?: unknown }).cause;
  }
  if (out.length === 0) out.push((err instanceof Error ? err.message : String(err)).split('\n')[0]);
  return out.reverse();
}

export class NativeBindingError extends Error {
  readonly code = 'NATIVE_BINDING_MISSING';
}

export function bindingLoadError(err: unknown, host: HostInfo = hostInfo()): NativeBindingError {
  const key = platformKey(host);
  const where = `${key} (Node ${host.node}${host.glibcVersion === null ? '' : `, glibc ${host.glibcVersion}`})`;
  const pkg = PREBUILT[key];
  const spec = `${pkg}@${PACKAGE.version}`;
  const advice =
    pkg !== undefined
      ? `The binary for ${key} comes from the package ${spec}, an optional dependency of ${PACKAGE.name}; ` +
        `it is missing or broken. Install it with \`npm install ${spec}\` (and do not install with ` +
        `--omit=optional or --no-optional). In a clone of the repository, \`npm install\` builds it instead (needs cargo).`
      : `No prebuilt binary exists for ${key}: prebuilt packages cover ${Object.keys(PREBUILT).join(', ')} only. ` +
        `Build from source instead: clone the repository and run \`npm install\` (needs cargo).`;
  const message = `${PACKAGE.name}: cannot load the native addon on ${where}. ${advice} Loader attempts: ${attempts(err).join('; ')}`;
  return new NativeBindingError(message, { cause: err });
}
