// The real API, in-process, on its own fresh database. Responses are checked
// against openapi.yaml (MIA_VALIDATE_RESPONSES): a response that breaks the
// contract becomes a 500 and fails the test that saw it.
import { loadConfig } from '../../api/config.ts';
import { startServer, type RunningServer } from '../../api/server.ts';
import { createTestDatabase, emptyQueue, type TestDatabase } from './database.ts';
import { request, type RequestOptions } from './http.ts';

export const testAdminToken = 'test-operator-token-0123456789abcdef';

export type TestApi = {
  url: string;
  adminToken: string;
  databaseUrl: string;
  server: RunningServer;
  request: <T = any>(method: string, path: string, options?: RequestOptions) => ReturnType<typeof request<T>>; // eslint-disable-line @typescript-eslint/no-explicit-any
  close: () => Promise<void>;
};

export function testEnv(databaseUrl: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: databaseUrl,
    MIA_ADMIN_TOKEN: testAdminToken,
    MIA_VALIDATE_RESPONSES: 'true',
    MIA_LOG_LEVEL: 'error',
    MIA_SHUTDOWN_TIMEOUT_MS: '2000',
    // Retries at once and to anyone, as before backoff existed: most suites claim, fail
    // and claim again with one miner. test/chaos/hostileMiners.test.ts and
    // test/api/retries.test.ts run with the real settings.
    // Suites register many miners from 127.0.0.1; test/api/registration.test.ts tests the limit.
    MIA_MINER_REGISTRATION_PER_HOUR: '0',
    // Suites register fresh miners that batch-claim and fail on purpose; probation (a new
    // miner gets one slot, its drops are free) and the hold on a suspended miner's address
    // (every suite registers from 127.0.0.1) are on in production and tested with the real
    // settings in test/api/probation.test.ts and test/chaos/hostileMiners.test.ts.
    MIA_PROBATION_JOBS: '0',
    MIA_SUSPENDED_ADDRESS_HOLD_HOURS: '0',
    MIA_RETRY_BACKOFF_SECONDS: '0',
    MIA_RETRY_AVOID_SECONDS: '0',
    // Canaries would be claimed by suites' hand-driven miners at random; test/trust/ runs
    // them on demand (POST /canaries) and the task's arithmetic directly.
    MIA_CANARY_RATE: '0',
    ...env,
  };
}

export async function startTestApi(options: { env?: Record<string, string>; database?: TestDatabase } = {}): Promise<TestApi> {
  const database = options.database ?? (await createTestDatabase());
  const config = loadConfig(testEnv(database.url, options.env));
  let server: RunningServer;
  try {
    server = await startServer(config, { databaseUrl: database.url, adminToken: testAdminToken });
  } catch (error) {
    if (!options.database) await database.drop();
    throw error;
  }
  return {
    url: server.url,
    adminToken: testAdminToken,
    databaseUrl: database.url,
    server,
    request: (method, path, requestOptions) => request(server.url, method, path, requestOptions),
    close: async () => {
      await server.close();
      if (!options.database) await database.drop();
    },
  };
}

/**
 * One API for a describe block: registers the before/after hooks (and, unless
 * turned off, empties the queue before each test) and returns the API, filled
 * in once `before` has run.
 */
export function useTestApi(
  options: { env?: Record<string, string> } = {},
  hooks: { emptyQueueBeforeEach?: boolean } = {},
): TestApi {
  const api = {} as TestApi;
  before(async () => {
    Object.assign(api, await startTestApi(options));
  });
  after(async () => {
    await api.close?.();
  });
  if (hooks.emptyQueueBeforeEach ?? true) {
    beforeEach(async () => {
      await emptyQueue(api.databaseUrl);
    });
  }
  return api;
}
