import * as fs from 'node:fs';
import * as path from 'node:path';
import { closedLoop, freePort, ValoriNode } from './lib/cluster-nodes';
const TOKEN = 'prof-token-prof-token-prof-token-1234';
const NET = '127.0.233';
const root = '/tmp/prof-run'; fs.rmSync(root, { recursive: true, force: true });
async function main() {
  const ids = [1, 2, 3];
  const addr = await Promise.all(ids.map(async (i) => ({ i, host: `${NET}.${i}`, api: await freePort(`${NET}.${i}`), raft: await freePort(`${NET}.${i}`) })));
  const members = addr.map((a) => `${a.i}=${a.host}:${a.raft}/${a.host}:${a.api}`).join(',');
  const nodes = addr.map((a) => {
    const dir = path.join(root, `n${a.i}`);
    fs.mkdirSync(dir, { recursive: true });
    const env: Record<string, string> = { VALORI_DIM: '128', VALORI_MAX_RECORDS: '4000000', VALORI_EVENT_LOG_PATH: path.join(dir, 'raft.log'), VALORI_AUTH_TOKEN: TOKEN, VALORI_LOG_FORMAT: 'json',
      VALORI_CLUSTER_MEMBERS: members, VALORI_NODE_ID: String(a.i), VALORI_BIND: `${a.host}:${a.api}`, ...(a.i === 1 ? { VALORI_CLUSTER_INIT: '1', NODE_OPTIONS: '--require /tmp/prof/start.cjs', PROF_MS: '6000' } : {}) };
    return new ValoriNode(`node ${a.i}`, a.host, a.api, env, path.join(dir, 'node.log'), TOKEN);
  });
  await Promise.all(nodes.map((n) => n.start()));
  for (;;) { try { const s = await nodes[0].status(); if (s.is_leader) break; } catch {} await new Promise((r) => setTimeout(r, 100)); }
  const bodies = Array.from({ length: 256 }, (_, i) => JSON.stringify({ values: Array.from({ length: 128 }, (_, j) => Math.sin(i * 7 + j)) }));
  const r = await closedLoop(nodes[0].client, '/v1/records', 64, Number(process.env.SECS ?? 6), 1, bodies);
  console.log(JSON.stringify({ rate: r.rate, p50: r.p50, p99: r.p99 }));
  nodes[0].proc!.child.kill('SIGTERM');
  await nodes[0].proc!.exited;
  for (const n of nodes.slice(1)) await n.kill9();
  for (const n of nodes) n.client.close();
}
main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
