// HNSW search over HTTP: a real server process (VALORI_INDEX=hnsw), Fashion-MNIST 60k × 784 loaded
// through POST /v1/vectors/batch_insert, then autocannon with 8 connections on POST /search
// (k = 10, the given ef) for a fixed duration, next to the same queries through the binding in
// this process (one thread, one query per call).
//
//   npx tsx scripts/bench-http-search.ts [--ef 32] [--seconds 15]
import { parseArgs } from 'node:util';
import { loadNative } from './lib/native';
import { table } from './lib/data';
import { DIM, loadImages } from './lib/fashion-mnist';
import { startValori } from './lib/valori-server';

const { values } = parseArgs({ options: { ef: { type: 'string', default: '32' }, seconds: { type: 'string', default: '15' } } });
const EF = Number(values.ef);
const SECONDS = Number(values.seconds);

async function main() {
  const base = loadImages('train-images-idx3-ubyte');
  const queries = loadImages('t10k-images-idx3-ubyte');
  const n = base.length / DIM;
  const server = await startValori({ VALORI_DIM: String(DIM), VALORI_INDEX: 'hnsw', VALORI_HNSW_EF_SEARCH: String(EF), VALORI_MAX_RECORDS: '70000', VALORI_MAX_NODES: '0', VALORI_MAX_EDGES: '0' });
  try {
    const t0 = Date.now();
    const chunk = 2000;
    for (let i = 0; i < n; i += chunk) {
      const rows: number[][] = [];
      for (let j = i; j < Math.min(n, i + chunk); j++) rows.push(Array.from(base.subarray(j * DIM, (j + 1) * DIM)));
      const r = await fetch(`${server.base}/v1/vectors/batch_insert`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ batch: rows }) });
      if (!r.ok) throw new Error(`insert failed: ${r.status} ${await r.text()}`);
    }
    process.stderr.write(`loaded ${n} vectors over HTTP (HNSW build) in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);

    // Autocannon cycles through 100 distinct query bodies.
    const bodies = Array.from({ length: 100 }, (_, i) => JSON.stringify({ query: Array.from(queries.subarray(i * DIM, (i + 1) * DIM)), k: 10, ef: EF }));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const autocannon = require('autocannon');
    const result = await autocannon({
      url: `${server.base}/search`,
      connections: 8,
      duration: SECONDS,
      requests: bodies.map((body) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body })),
    });
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`non-2xx ${result.non2xx}, errors ${result.errors}`);

    // In-process reference: same data and ef through the binding.
    const k = loadNative().create({ dim: DIM, maxRecords: n, maxNodes: 0, maxEdges: 0, index: 'hnsw', hnswEfSearch: EF });
    for (let i = 0; i < n; i += 5000) await k.insertBatch(base.subarray(i * DIM, Math.min(n, i + 5000) * DIM), Math.min(5000, n - i));
    const nq = 2000;
    const t1 = process.hrtime.bigint();
    for (let i = 0; i < nq; i++) await k.search(queries.subarray((i % 10000) * DIM, ((i % 10000) + 1) * DIM), 10, { ef: EF });
    const inproc = nq / (Number(process.hrtime.bigint() - t1) / 1e9);
    k.close();

    console.log(`\nHNSW search, Fashion-MNIST 60k x 784, k=10, ef=${EF}\n`);
    console.log(
      table([
        ['path', 'QPS', 'p50 ms', 'p99 ms'],
        ['HTTP /search, autocannon 8 connections', Math.round(result.requests.average), result.latency.p50, result.latency.p99],
        ['binding in-process, 1 thread, 1 query per call', Math.round(inproc), '', ''],
      ]),
    );
  } finally {
    server.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
