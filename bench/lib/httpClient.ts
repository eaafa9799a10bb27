// A lean keep-alive JSON client on node:http. fetch() (undici) would do, but
// its per-request cost is higher and on two cores every client cycle is a
// cycle the API does not get; a simulated miner owns one Agent (one socket),
// as a real miner keeps one connection.
import http from 'node:http';

export type HttpResponse = { status: number; text: string };

export type RequestOptions = { token?: string; body?: unknown; timeoutMs?: number };

export class HttpClient {
  private readonly host: string;
  private readonly port: number;

  constructor(
    baseUrl: string,
    readonly agent: http.Agent = new http.Agent({ keepAlive: true, maxSockets: 1 }),
  ) {
    const url = new URL(baseUrl);
    this.host = url.hostname;
    this.port = Number(url.port);
  }

  request(method: string, path: string, options: RequestOptions = {}): Promise<HttpResponse> {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: Record<string, string | number> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: this.host, port: this.port, method, path, headers, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      // Every request is bounded: a hung server fails the scenario instead of the bench.
      req.setTimeout(options.timeoutMs ?? 30_000, () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<{ status: number; body: T }> {
    const res = await this.request(method, path, options);
    if (res.status >= 300 && res.status !== 204 && res.status !== 202) {
      throw new Error(`${method} ${path}: ${res.status} ${res.text.slice(0, 300)}`);
    }
    return { status: res.status, body: (res.text ? JSON.parse(res.text) : undefined) as T };
  }

  close(): void {
    this.agent.destroy();
  }
}
