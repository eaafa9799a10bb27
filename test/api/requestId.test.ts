// X-Request-Id: on every response, the caller's own kept when it is a plain token.
import assert from 'node:assert/strict';
import { useTestApi } from '../support/apiServer.ts';

describe('X-Request-Id', () => {
  const api = useTestApi();
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

  it('is on every response, a fresh one each time', async () => {
    const ok = await api.request('GET', '/health');
    const missing = await api.request('GET', '/no/such/route');
    const refused = await api.request('GET', '/miners', { token: 'mia_bk_wrong' });
    for (const res of [ok, missing, refused]) assert.match(res.headers.get('x-request-id') ?? '', uuid);
    assert.notEqual(ok.headers.get('x-request-id'), missing.headers.get('x-request-id'));
  });

  it("keeps the caller's id when it is a plain token, and replaces one that is not", async () => {
    const kept = await api.request('GET', '/health', { headers: { 'X-Request-Id': 'lb-7f3a.42:1' } });
    assert.equal(kept.headers.get('x-request-id'), 'lb-7f3a.42:1');
    const odd = await api.request('GET', '/health', { headers: { 'X-Request-Id': 'two words\tand "quotes"' } });
    assert.match(odd.headers.get('x-request-id') ?? '', uuid);
    const long = await api.request('GET', '/health', { headers: { 'X-Request-Id': 'x'.repeat(129) } });
    assert.match(long.headers.get('x-request-id') ?? '', uuid);
  });
});
