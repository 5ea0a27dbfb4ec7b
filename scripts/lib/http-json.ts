// A small keep-alive JSON client for the HTTP benchmarks: the same code talks to Valori and to its
// peers, so client cost is alike on both sides.
import { Agent, request } from 'node:http';

export class JsonClient {
  private readonly agent: Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(base: string, sockets = 8) {
    const u = new URL(base);
    this.host = u.hostname;
    this.port = Number(u.port);
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets });
  }

  /** Sends `body` (an object, or JSON text already encoded); rejects on a non-2xx answer. */
  call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const headers: Record<string, string | number> = text === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) };
    return new Promise((resolve, reject) => {
      const req = request({ host: this.host, port: this.port, path, method, agent: this.agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const s = Buffer.concat(chunks).toString();
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) return reject(new HttpError(status, `${method} ${path}: ${status} ${s.slice(0, 500)}`));
          try {
            resolve((s === '' ? null : JSON.parse(s)) as T);
          } catch (e) {
            reject(e);
          }
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(text);
    });
  }

  post<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  close(): void {
    this.agent.destroy();
  }
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
