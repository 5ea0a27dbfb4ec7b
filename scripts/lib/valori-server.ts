// A built node (dist/main.js) as a child process for the HTTP benchmarks: in memory unless the
// caller's env says otherwise, bound to 127.0.0.1 on a free port, ready once it logs its
// readiness line.
import { type ChildProcess, spawn } from 'node:child_process';

export interface ValoriServer {
  readonly base: string;
  readonly port: number;
  readonly child: ChildProcess;
  stop(): void;
}

/** Starts `dist/main.js` with `env` on top of this process's environment. */
export async function startValori(env: Record<string, string>, timeoutMs = 30_000): Promise<ValoriServer> {
  const child = spawn(process.execPath, ['dist/main.js'], {
    env: { ...process.env, VALORI_BIND: '127.0.0.1:0', RUST_LOG: 'valori_node=info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const base = await new Promise<string>((resolve, reject) => {
    let buf = '';
    let ready = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('valori server did not start'));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`valori server exited with code ${code} before listening`));
    });
    // Keeps reading after the readiness line: a full pipe would stall the server's logging.
    child.stdout!.on('data', (d: Buffer) => {
      if (ready) return;
      buf += d.toString();
      const m = /Listening on ([\d.]+:\d+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        ready = true;
        resolve(`http://${m[1]}`);
      }
    });
  });
  child.removeAllListeners('exit');
  return { base, port: Number(new URL(base).port), child, stop: () => void child.kill('SIGKILL') };
}
