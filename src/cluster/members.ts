// VALORI_CLUSTER_MEMBERS and the other cluster-mode variables' parsers (src/config.ts holds their
// specs). `id=raft_host:port/api_host:port,…` is the original's format, so its operators' files keep
// working; the API address may also be a URL (`http://` or `https://`), for Location headers.
import { ConfigError } from '../config-vars';

export interface ClusterMember {
  id: number;
  /** Where the member's Raft listener is reached (host:port). */
  raftAddr: string;
  /** Where its HTTP API is reached: host:port, or a URL with scheme. */
  apiAddr: string;
}

const ENV = 'VALORI_CLUSTER_MEMBERS';
const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;
/** The Raft codec's limit on one address (native/cluster/src/codec.rs, MAX_ADDR_BYTES). */
const MAX_ADDR_BYTES = 255;

function hostPort(text: string): boolean {
  const m = HOST_PORT.exec(text);
  return m !== null && Number(m[2]) >= 1 && Number(m[2]) <= 65_535 && Buffer.byteLength(text) <= MAX_ADDR_BYTES;
}

function apiAddr(text: string): boolean {
  if (hostPort(text)) return true;
  const m = /^https?:\/\/([^/?#]+)$/.exec(text);
  return m !== null && hostPort(m[1]) && Buffer.byteLength(text) <= MAX_ADDR_BYTES;
}

/** A node id: an integer 1..2^53-1 (ids are never reused; docs/CLUSTER.md). */
export function parseNodeId(text: string, env: string): number {
  const n = /^\d{1,16}$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!(Number.isSafeInteger(n) && n >= 1)) {
    throw new ConfigError(env, `${env}=${JSON.stringify(text)} is invalid: expected a node id, an integer from 1 to ${Number.MAX_SAFE_INTEGER}`);
  }
  return n;
}

/** `1=10.0.0.1:3100/10.0.0.1:3000,2=…` → members in id order; null when unset. */
export function parseMembers(raw: string | undefined): ClusterMember[] | null {
  if (raw === undefined) return null;
  const entries = raw
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (entries.length === 0) throw new ConfigError(ENV, `${ENV} is empty: expected id=raft_host:port/api_host:port,… (e.g. 1=10.0.0.1:3100/10.0.0.1:3000)`);
  const members: ClusterMember[] = [];
  const seen = new Set<number>();
  for (const entry of entries) {
    const m = /^([^=]+)=([^/]+)\/(.+)$/.exec(entry);
    if (m === null) throw new ConfigError(ENV, `${ENV} entry ${JSON.stringify(entry)} is invalid: expected id=raft_host:port/api_host:port`);
    const id = parseNodeId(m[1], ENV);
    if (seen.has(id)) throw new ConfigError(ENV, `${ENV} names node ${id} twice: every member needs its own id`);
    seen.add(id);
    const raftAddr = m[2].trim();
    const api = m[3].trim().replace(/\/+$/, '');
    if (!hostPort(raftAddr)) throw new ConfigError(ENV, `${ENV}: node ${id}'s Raft address ${JSON.stringify(raftAddr)} is invalid: expected host:port (port 1..65535)`);
    if (!apiAddr(api)) throw new ConfigError(ENV, `${ENV}: node ${id}'s API address ${JSON.stringify(api)} is invalid: expected host:port or http(s)://host:port`);
    members.push({ id, raftAddr, apiAddr: api });
  }
  return members.sort((a, b) => a.id - b.id);
}

/** VALORI_RAFT_BIND: an IP address and a port (the listener binds it; no name lookup). */
export function parseRaftBind(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  const text = raw.trim();
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/.exec(text);
  const ipv4Ok = m !== null && (m[1].startsWith('[') || m[1].split('.').every((p) => Number(p) <= 255));
  if (m === null || !ipv4Ok || Number(m[2]) > 65_535) {
    throw new ConfigError('VALORI_RAFT_BIND', `VALORI_RAFT_BIND=${JSON.stringify(raw)} is invalid: expected an IP address and a port, e.g. 0.0.0.0:3100 or 10.0.0.1:3100`);
  }
  return text;
}

/** The base URL of a member's API (for Location headers and the CLI). */
export function apiUrl(apiAddr: string): string {
  return /^https?:\/\//.test(apiAddr) ? apiAddr : `http://${apiAddr}`;
}
