// `valori-node doctor` on a follower (VALORI_FOLLOWER_OF set): what the follower will need from
// its leader, checked with the same calls it makes. Three findings:
//   leader            GET /health answers (public, no token) within LEADER_TIMEOUT_MS;
//   leader token      GET /v1/replication/state with the follower's token (VALORI_LEADER_TOKEN,
//                     else VALORI_AUTH_TOKEN) is accepted: 401/403 name the variable to fix;
//   leader dimension  the leader's default collection has VALORI_DIM components (/health `dim`),
//                     else the follower would refuse the leader's events.
// The leader is only read from: both routes change nothing.
import type { Config } from './config';
import type { Finding } from './doctor';
import { boundedJson, describeError, LeaderClient, LeaderError } from './replication/leader-client';

/** A leader that has not answered a small GET in this long is as good as down for an operator. */
export const LEADER_TIMEOUT_MS = 5_000;
/** /health is a few hundred bytes; a larger answer is not a Valori node. */
const MAX_HEALTH_BYTES = 65_536;

/** The variable whose value the follower sends, for messages that tell the operator what to fix. */
function tokenVariable(config: Config): string {
  return config.leaderToken !== null ? 'VALORI_LEADER_TOKEN' : 'VALORI_AUTH_TOKEN';
}

async function health(leader: string, timeoutMs: number): Promise<{ status: number; version: string; dim: number }> {
  const res = await fetch(`${leader}/health`, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  let body: unknown;
  try {
    body = await boundedJson(res, MAX_HEALTH_BYTES, '/health');
  } catch {
    body = null;
  }
  const o = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  // 503 is a full leader, still a leader; anything else without our body is not one.
  if ((res.status !== 200 && res.status !== 503) || typeof o.dim !== 'number') {
    throw new Error(`GET /health answered ${res.status} without a Valori health body: is VALORI_FOLLOWER_OF the leader's base URL?`);
  }
  return { status: res.status, version: typeof o.version === 'string' ? o.version : 'unknown', dim: o.dim };
}

/** Nothing when the node is not a follower; else the three findings above. */
export async function checkLeader(config: Config, timeoutMs = LEADER_TIMEOUT_MS): Promise<Finding[]> {
  const leader = config.followerOf;
  if (leader === null) return [{ status: 'SKIP', check: 'leader', detail: 'not a follower (VALORI_FOLLOWER_OF unset)' }];
  let h: Awaited<ReturnType<typeof health>>;
  try {
    h = await health(leader, timeoutMs);
  } catch (err) {
    const why = err instanceof Error && err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : describeError(err);
    return [
      { status: 'FAIL', check: 'leader', detail: `${leader} is unreachable: ${why}` },
      { status: 'SKIP', check: 'leader token', detail: 'leader unreachable' },
      { status: 'SKIP', check: 'leader dimension', detail: 'leader unreachable' },
    ];
  }
  const out: Finding[] = [{ status: 'PASS', check: 'leader', detail: `${leader} answers (GET /health ${h.status}, version ${h.version})` }];

  const token = config.leaderToken ?? config.authToken;
  const variable = tokenVariable(config);
  try {
    await new LeaderClient(leader, token).state(AbortSignal.timeout(timeoutMs));
    out.push({ status: 'PASS', check: 'leader token', detail: token === null ? 'the leader needs no token' : `${variable} is accepted (GET /v1/replication/state)` });
  } catch (err) {
    let detail = describeError(err);
    if (err instanceof LeaderError && err.status === 401) {
      detail =
        token === null
          ? 'the leader requires a token: set VALORI_LEADER_TOKEN (or VALORI_AUTH_TOKEN) to one of its tokens or read keys'
          : `the leader refused ${variable} (401): set it to the leader's VALORI_AUTH_TOKEN or one of its API keys`;
    } else if (err instanceof LeaderError && err.status === 403) {
      detail = `the leader accepted ${variable} but its scope is too small (403): a follower needs an unrestricted read key or better`;
    }
    out.push({ status: 'FAIL', check: 'leader token', detail });
  }

  out.push(
    h.dim === config.dim
      ? { status: 'PASS', check: 'leader dimension', detail: `${h.dim}, the same as VALORI_DIM` }
      : { status: 'FAIL', check: 'leader dimension', detail: `the leader has dimension ${h.dim} but VALORI_DIM is ${config.dim}: set VALORI_DIM=${h.dim} (the follower replays the leader's events)` },
  );
  return out;
}
