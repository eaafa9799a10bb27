// A small JSON client for tests: every call returns status, headers and parsed body.
// It also enforces, on every response of every test, that no secret the tests
// have been issued (or its sha256) ever comes back after the response that issued it.
import { createHash } from 'node:crypto';

const issuedSecrets = new Map<string, string>(); // secret -> its hash

export function rememberSecret(secret: string): void {
  issuedSecrets.set(secret, createHash('sha256').update(secret).digest('hex'));
}

/** Every secret issued so far in this run, with its sha256 (the whole-run log check reads it). */
export function issuedSecretsSoFar(): Map<string, string> {
  return new Map(issuedSecrets);
}

function assertNoSecrets(method: string, path: string, text: string): void {
  for (const [secret, hash] of issuedSecrets) {
    if (text.includes(secret) || text.includes(hash)) {
      throw new Error(`${method} ${path}: response contains an issued secret or its hash`);
    }
  }
}
export type ApiResponse<T = any> = { status: number; headers: Headers; body: T; text: string }; // eslint-disable-line @typescript-eslint/no-explicit-any

export type RequestOptions = { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> };

export async function request<T = any>( // eslint-disable-line @typescript-eslint/no-explicit-any
  baseUrl: string,
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.rawBody !== undefined) {
    body = options.rawBody;
    headers['content-type'] ??= 'application/json';
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  const response = await fetch(baseUrl + path, { method, headers, body });
  const text = await response.text();
  assertNoSecrets(method, path, text);
  for (const field of ['api_key', 'auth_key', 'webhook_secret']) {
    const match = new RegExp(`"${field}":"([^"]+)"`).exec(text);
    if (match) rememberSecret(match[1]!);
  }
  let parsed: unknown = undefined;
  if (text && response.headers.get('content-type')?.includes('json')) parsed = JSON.parse(text);
  return { status: response.status, headers: response.headers, body: parsed as T, text };
}
