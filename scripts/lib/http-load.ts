// Closed-loop HTTP load for the write benchmarks: `clients` keep-alive connections, each with one
// POST in flight at a time, cycling through pre-encoded bodies; latencies after a 1 s warm-up.
import { Agent, request } from 'node:http';
import { percentile } from './data';

export interface LoadResult {
  rate: number;
  p50: number;
  p99: number;
  errors: number;
}

function post(agent: Agent, port: number, body: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** `clients` closed-loop clients (one request in flight each) for warmup + `seconds`. */
export async function closedLoop(port: number, clients: number, seconds: number, bodies: string[], path = '/records'): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const lat: number[] = [];
  let errors = 0;
  let next = 0;
  const warmEnd = performance.now() + 1000;
  const end = warmEnd + seconds * 1000;
  let counted = 0;
  const client = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const status = await post(agent, port, bodies[next++ % bodies.length], path);
      const t1 = performance.now();
      if (t0 >= warmEnd) {
        if (status !== 200) errors++;
        else {
          lat.push(t1 - t0);
          counted++;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  agent.destroy();
  return { rate: counted / seconds, p50: percentile(lat, 50), p99: percentile(lat, 99), errors };
}
