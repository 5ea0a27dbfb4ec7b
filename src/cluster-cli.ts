// `valori-node cluster status|add-node|remove-node`: the membership routes (docs/CLUSTER.md) from
// a terminal. Talks HTTP to any member; a member that does not lead answers membership changes
// with 307 to the leader, which this follows with the same method, body and token (every member
// of a cluster shares the API token). The token comes from --token or VALORI_AUTH_TOKEN and is
// never printed.
import { parseArgs } from 'node:util';

export type ClusterCommand =
  | { sub: 'status'; url: string; token?: string; json: boolean }
  | { sub: 'add-node'; url: string; token?: string; json: boolean; nodeId: number; raftAddr: string; apiAddr: string }
  | { sub: 'remove-node'; url: string; token?: string; json: boolean; nodeId: number };

export const CLUSTER_USAGE = `  cluster status       [--url URL] [--token T] [--json]
  cluster add-node     --node-id N --raft-addr HOST:PORT --api-addr HOST:PORT [--url URL] [--token T]
  cluster remove-node  --node-id N [--url URL] [--token T]
                 A Raft cluster's membership (docs/CLUSTER.md), through any member's HTTP API:
                 status prints its view (leader, term, log and apply indexes, members);
                 add-node adds a node as a learner, promoted to voter once it has caught up
                 (start the node first); remove-node removes a voter or learner (never the
                 last voter). --url defaults to http://127.0.0.1:3000, --token to
                 VALORI_AUTH_TOKEN; a 307 to the leader is followed with the token. --json
                 prints the server's answer as it came. Exit 0 on success, 1 when the server
                 refused or could not be reached (its error code and message on stderr), 2 on
                 a usage error.
`;

const MAX_HOPS = 5;
const TIMEOUT_MS = 15_000;

/** Parses the arguments after `cluster`; a string is a usage error. */
export function parseClusterArgs(argv: string[], env: NodeJS.ProcessEnv): ClusterCommand | string {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        url: { type: 'string' },
        token: { type: 'string' },
        json: { type: 'boolean' },
        'node-id': { type: 'string' },
        'raft-addr': { type: 'string' },
        'api-addr': { type: 'string' },
      },
    });
  } catch (err) {
    const raw = err instanceof Error ? err.message : String(err);
    const arg = /'([^']*)'/.exec(raw)?.[1];
    return arg !== undefined && (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? `unknown option '${arg}'` : raw.split('. ')[0];
  }
  const { values: v, positionals } = parsed;
  const [sub, extra] = positionals;
  if (sub === undefined) return "'cluster' needs a command: status, add-node or remove-node";
  if (extra !== undefined) return `unexpected argument '${extra}'`;
  const url = (v.url ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return `--url must be an http(s) URL, got ${JSON.stringify(url)}`;
  } catch {
    return `--url must be an http(s) URL, got ${JSON.stringify(url)}`;
  }
  const token = v.token ?? (env.VALORI_AUTH_TOKEN || undefined);
  const json = v.json === true;
  const only = (allowed: string[]): string | null => {
    for (const name of ['node-id', 'raft-addr', 'api-addr'] as const) {
      if (v[name] !== undefined && !allowed.includes(name)) return `option '--${name}' does not apply to 'cluster ${sub}'`;
    }
    return null;
  };
  const nodeId = (): number | string => {
    const raw = v['node-id'];
    if (raw === undefined) return `'cluster ${sub}' needs --node-id`;
    if (!/^[1-9][0-9]*$/.test(raw) || !Number.isSafeInteger(Number(raw))) return `--node-id must be an integer 1..2^53-1, got ${JSON.stringify(raw)}`;
    return Number(raw);
  };
  switch (sub) {
    case 'status': {
      const bad = only([]);
      return bad ?? { sub, url, token, json };
    }
    case 'add-node': {
      const id = nodeId();
      if (typeof id === 'string') return id;
      const raftAddr = v['raft-addr'];
      const apiAddr = v['api-addr'];
      if (raftAddr === undefined) return "'cluster add-node' needs --raft-addr (the new node's Raft address, host:port)";
      if (apiAddr === undefined) return "'cluster add-node' needs --api-addr (the new node's HTTP address, host:port)";
      return { sub, url, token, json, nodeId: id, raftAddr, apiAddr };
    }
    case 'remove-node': {
      const bad = only(['node-id']);
      if (bad !== null) return bad;
      const id = nodeId();
      if (typeof id === 'string') return id;
      return { sub, url, token, json, nodeId: id };
    }
    default:
      return `unknown cluster command '${sub}' (status, add-node or remove-node)`;
  }
}

export interface CliResult {
  stdout: string;
  stderr: string;
  code: number;
}

interface StatusBody {
  node_id: number;
  current_leader: number | null;
  role: string;
  term: number;
  last_log_index: number | null;
  last_applied_index: number | null;
  snapshot_index: number | null;
  quorum_lost?: boolean;
  members: { id: number; raft_addr: string; api_addr: string; voter: boolean }[];
  joining?: { id: number; state: string }[];
}

/** `status` as a person reads it. */
export function formatStatus(s: StatusBody): string {
  const show = (n: number | null) => (n === null ? '-' : String(n));
  const lines = [
    `node ${s.node_id}: ${s.role}${s.quorum_lost ? ' (cut off from its quorum)' : ''}, leader ${s.current_leader === null ? 'none (election under way or no quorum)' : s.current_leader}, term ${s.term}`,
    `log ${show(s.last_log_index)}, applied ${show(s.last_applied_index)}, snapshot ${show(s.snapshot_index)}`,
  ];
  const rows = s.members.map((m) => [String(m.id), m.voter ? 'voter' : 'learner', m.raft_addr, m.api_addr, m.id === s.current_leader ? 'leader' : '']);
  const head = ['id', 'role', 'raft', 'api', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  lines.push('members:', `  ${fmt(head)}`, ...rows.map((r) => `  ${fmt(r)}`));
  for (const j of s.joining ?? []) lines.push(`joining: node ${j.id} (${j.state})`);
  return `${lines.join('\n')}\n`;
}

/** Sends one request, following 307/308 to the leader with the same method, body and token. */
async function send(cmd: ClusterCommand, method: 'GET' | 'POST', path: string, body: unknown, fetchImpl: typeof fetch): Promise<{ status: number; text: string; at: string }> {
  let url = new URL(cmd.url + path);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (cmd.token !== undefined) headers.authorization = `Bearer ${cmd.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  for (let hop = 0; ; hop++) {
    const res = await fetchImpl(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) });
    const location = res.headers.get('location');
    if ((res.status === 307 || res.status === 308) && location !== null) {
      await res.body?.cancel();
      if (hop >= MAX_HOPS) throw new Error(`more than ${MAX_HOPS} redirects (last to ${location})`);
      url = new URL(location, url);
      continue;
    }
    return { status: res.status, text: await res.text(), at: url.origin };
  }
}

/** Runs a parsed cluster command against the server. */
export async function runCluster(cmd: ClusterCommand, fetchImpl: typeof fetch = fetch): Promise<CliResult> {
  const [method, path, body]: ['GET' | 'POST', string, unknown] =
    cmd.sub === 'status'
      ? ['GET', '/v1/cluster/status', undefined]
      : cmd.sub === 'add-node'
        ? ['POST', '/v1/cluster/add-node', { node_id: cmd.nodeId, raft_addr: cmd.raftAddr, api_addr: cmd.apiAddr }]
        : ['POST', '/v1/cluster/remove-node', { node_id: cmd.nodeId }];
  let r;
  try {
    r = await send(cmd, method, path, body, fetchImpl);
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return { stdout: '', stderr: `cluster ${cmd.sub}: ${cmd.url} could not be reached (${err instanceof Error ? err.message : String(err)}${cause})\n`, code: 1 };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.text);
  } catch {
    parsed = undefined;
  }
  if (r.status < 200 || r.status > 299) {
    const e = (parsed ?? {}) as { code?: string; error?: string };
    const what = e.code !== undefined ? `${e.code}: ${e.error ?? ''}` : r.text.slice(0, 200) || 'no body';
    return { stdout: '', stderr: `cluster ${cmd.sub}: ${r.at} answered ${r.status} ${what}\n`, code: 1 };
  }
  if (cmd.json || parsed === undefined) return { stdout: `${r.text}\n`, stderr: '', code: 0 };
  if (cmd.sub === 'status') return { stdout: formatStatus(parsed as StatusBody), stderr: '', code: 0 };
  const c = parsed as { node_id: number; state: string };
  const said =
    cmd.sub === 'add-node'
      ? `node ${c.node_id} added as a learner by ${r.at}; it becomes a voter once it has caught up (see 'cluster status')`
      : `node ${c.node_id} removed by ${r.at}; stop its process now`;
  return { stdout: `${said}\n`, stderr: '', code: 0 };
}
