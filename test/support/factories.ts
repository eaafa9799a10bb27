// Test fixtures built through the public API, with overridable defaults
// (River's testfactory idea): each returns what later calls need.
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import type { TestApi } from './apiServer.ts';

export type TestBusiness = { id: string; api_key: string; name: string };
export type TestMiner = { miner_id: string; auth_key: string; name: string };

export async function createBusiness(api: TestApi, overrides: Record<string, unknown> = {}): Promise<TestBusiness> {
  const res = await api.request('POST', '/businesses', {
    token: api.adminToken,
    body: { name: `business-${randomUUID().slice(0, 8)}`, system_prompt: 'You help customers of a bike shop.', ...overrides },
  });
  assert.equal(res.status, 201, res.text);
  return { id: res.body.id, api_key: res.body.api_key, name: res.body.name };
}

export async function registerMiner(api: TestApi, overrides: Record<string, unknown> = {}): Promise<TestMiner> {
  const name = (overrides.name as string | undefined) ?? `miner-${randomUUID().slice(0, 8)}`;
  const res = await api.request('POST', '/register_miner', { body: { name, gpu_name: 'Test GPU', slots: 1, ...overrides } });
  assert.equal(res.status, 201, res.text);
  return { miner_id: res.body.miner_id, auth_key: res.body.auth_key, name };
}

export async function submitChat(
  api: TestApi,
  business: TestBusiness,
  body: Record<string, unknown> = {},
  headers: Record<string, string> = {},
) {
  return api.request('POST', '/chat', { token: business.api_key, body: { message: 'Hello!', wait: 0, ...body }, headers });
}

export async function claimJob(api: TestApi, miner: TestMiner, wait = 0) {
  return api.request('GET', `/job/next?miner_id=${miner.miner_id}&wait=${wait}`, { token: miner.auth_key });
}

export async function postResult(api: TestApi, miner: TestMiner, job: { job_id: string; lease_token?: string; session_id?: string }, overrides: Record<string, unknown> = {}) {
  return api.request('POST', '/job/result', {
    token: miner.auth_key,
    body: {
      job_id: job.job_id,
      session_id: job.session_id,
      miner_id: miner.miner_id,
      success: true,
      output: 'Here is your answer.',
      tokens_generated: 5,
      lease_token: job.lease_token,
      ...overrides,
    },
  });
}
