import assert from 'node:assert/strict';
import { useTestApi } from '../support/apiServer.ts';
import { createBusiness } from '../support/factories.ts';

describe('businesses', () => {
  const api = useTestApi({}, { emptyQueueBeforeEach: false });

  it('creates a business whose key works at once and is shown only at creation', async () => {
    const res = await api.request('POST', '/businesses', {
      token: api.adminToken,
      body: { name: 'Velo GmbH', contact_email: 'ops@velo.example', system_prompt: 'Antworte freundlich.', priority: 10 },
    });
    assert.equal(res.status, 201);
    assert.match(res.body.api_key, /^mia_bk_/);
    const self = await api.request('GET', `/businesses/${res.body.id}`, { token: res.body.api_key });
    assert.equal(self.status, 200);
    assert.equal(self.body.name, 'Velo GmbH');
    assert.equal(self.body.priority, 10);
    assert.equal('api_key' in self.body, false);
  });

  it('rotates a key: the new one works, the old one is refused', async () => {
    const business = await createBusiness(api);
    const rotated = await api.request('POST', `/businesses/${business.id}/rotate_key`, { token: api.adminToken });
    assert.equal(rotated.status, 200);
    assert.notEqual(rotated.body.api_key, business.api_key);
    assert.equal((await api.request('GET', `/businesses/${business.id}`, { token: business.api_key })).status, 401);
    assert.equal((await api.request('GET', `/businesses/${business.id}`, { token: rotated.body.api_key })).status, 200);
  });

  it('updates the system prompt used for new chats', async () => {
    const business = await createBusiness(api, { system_prompt: 'old prompt' });
    const patched = await api.request('PATCH', `/businesses/${business.id}`, { token: api.adminToken, body: { system_prompt: 'new prompt' } });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.system_prompt, 'new prompt');
    const miner = await api.request('POST', '/register_miner', { body: { name: `m-${business.id.slice(0, 8)}` } });
    await api.request('POST', '/chat', { token: business.api_key, body: { message: 'hi', wait: 0 } });
    const job = await api.request('GET', `/job/next?miner_id=${miner.body.miner_id}`, { token: miner.body.auth_key });
    assert.match(job.body.messages[0].content, /new prompt/);
  });

  it('answers 404 for an unknown business and 400 for an empty update', async () => {
    const missing = await api.request('GET', '/businesses/00000000-0000-4000-8000-000000000000', { token: api.adminToken });
    assert.equal(missing.status, 404);
    const empty = await api.request('PATCH', '/businesses/00000000-0000-4000-8000-000000000000', { token: api.adminToken, body: {} });
    assert.equal(empty.status, 400);
  });
});
