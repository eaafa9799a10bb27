import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../api/config.ts';
import { TokenBuckets } from '../../api/http/rateLimit.ts';
import { useTestApi } from '../support/apiServer.ts';
import { claimJob, createBusiness, registerMiner, submitChat } from '../support/factories.ts';

describe('limits: rate limits per key, message length, max_tokens, body size', () => {
  const api = useTestApi({
      env: {
        // A bucket that does not refill within a test: the burst is all a key gets.
        MIA_RATE_LIMIT_CHAT_PER_SECOND: '0.001',
        MIA_RATE_LIMIT_CHAT_BURST: '3',
        MIA_RATE_LIMIT_MINER_PER_SECOND: '0.001',
        MIA_RATE_LIMIT_MINER_BURST: '4',
        MIA_MAX_MESSAGE_CHARS: '10',
        MIA_MAX_TOKENS_DEFAULT: '50',
        MIA_MAX_TOKENS_LIMIT: '100',
        MIA_MAX_BODY_BYTES: '2048',
      },
    });

  it('refuses a business key past its burst with 429 rate_limited and Retry-After, other keys unaffected', async () => {
    const business = await createBusiness(api);
    for (let i = 0; i < 3; i++) assert.equal((await submitChat(api, business)).status, 202);
    const refused = await submitChat(api, business);
    assert.equal(refused.status, 429, refused.text);
    assert.equal(refused.body.error.code, 'rate_limited');
    assert.ok(Number(refused.headers.get('retry-after')) >= 1, 'Retry-After is at least one second');
    const openai = await api.request('POST', '/v1/chat/completions', {
      token: business.api_key,
      body: { model: 'any', messages: [{ role: 'user', content: 'hi' }] },
    });
    assert.equal(openai.status, 429, 'the OpenAI-compatible route shares the business key\'s bucket');

    const other = await createBusiness(api);
    assert.equal((await submitChat(api, other)).status, 202, 'each business key has its own bucket');
    const byOperator = await api.request('POST', '/chat', {
      token: api.adminToken,
      body: { message: 'hi', business_id: business.id, wait: 0 },
    });
    assert.equal(byOperator.status, 202, 'the operator is not limited');
  });

  it('refuses a miner key past its burst on the miner protocol with 429, other miners unaffected', async () => {
    const miner = await registerMiner(api);
    for (let i = 0; i < 4; i++) assert.equal((await claimJob(api, miner)).status, 204);
    const refused = await claimJob(api, miner);
    assert.equal(refused.status, 429, refused.text);
    assert.equal(refused.body.error.code, 'rate_limited');
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    const status = await api.request('POST', `/miner/${miner.miner_id}/status`, { token: miner.auth_key, body: { status: 'idle' } });
    assert.equal(status.status, 429, 'heartbeats count against the same key');

    const other = await registerMiner(api);
    assert.equal((await claimJob(api, other)).status, 204);
  });

  it('refuses a message longer than MIA_MAX_MESSAGE_CHARS, counting characters not UTF-16 units', async () => {
    const business = await createBusiness(api);
    const tooLong = await submitChat(api, business, { message: 'x'.repeat(11) });
    assert.equal(tooLong.status, 400);
    assert.equal(tooLong.body.error.code, 'bad_request');
    assert.match(tooLong.body.error.message, /message/);
    const emoji = await submitChat(api, business, { message: '🚲'.repeat(10) });
    assert.equal(emoji.status, 202, 'ten emoji are ten characters');
  });

  it('refuses max_tokens above MIA_MAX_TOKENS_LIMIT and accepts it at the limit', async () => {
    const business = await createBusiness(api);
    const over = await submitChat(api, business, { max_tokens: 101 });
    assert.equal(over.status, 400);
    assert.match(over.body.error.message, /max_tokens/);
    assert.equal((await submitChat(api, business, { max_tokens: 100 })).status, 202);
  });

  it('refuses a body over MIA_MAX_BODY_BYTES with 413 payload_too_large', async () => {
    const business = await createBusiness(api);
    const res = await api.request('POST', '/chat', { token: business.api_key, body: { message: 'hi', context: 'y'.repeat(3000) } });
    assert.equal(res.status, 413);
    assert.equal(res.body.error.code, 'payload_too_large');
  });
});

describe('TokenBuckets', () => {
  it('lets a burst through, then answers the seconds until the next token, then refills', () => {
    const buckets = new TokenBuckets({ ratePerSecond: 2, burst: 3 });
    for (let i = 0; i < 3; i++) assert.equal(buckets.take('k', 0), 0);
    assert.equal(buckets.take('k', 0), 0.5);
    assert.equal(buckets.take('k', 500), 0, 'half a second refills one token at 2/s');
    assert.ok(buckets.take('k', 500) > 0);
    for (let i = 0; i < 3; i++) assert.equal(buckets.take('k', 60_000), 0, 'refills up to the burst, not beyond');
    assert.ok(buckets.take('k', 60_000) > 0);
  });

  it('never limits with a rate of 0', () => {
    const buckets = new TokenBuckets({ ratePerSecond: 0, burst: 1 });
    for (let i = 0; i < 100; i++) assert.equal(buckets.take('k', 0), 0);
    assert.equal(buckets.size, 0, 'and remembers nothing');
  });

  it('remembers at most maxKeys keys however many callers there are', () => {
    const buckets = new TokenBuckets({ ratePerSecond: 1, burst: 5, maxKeys: 100 });
    for (let i = 0; i < 10_000; i++) buckets.take(`key-${i}`, i);
    assert.ok(buckets.size <= 100, `size ${buckets.size}`);
  });
});

describe('limit settings', () => {
  it('stops start-up with a message naming a rate limit setting that is out of range', () => {
    assert.throws(() => loadConfig({ MIA_RATE_LIMIT_CHAT_PER_SECOND: '-1' }), (error: unknown) =>
      error instanceof ConfigError && error.message.includes('MIA_RATE_LIMIT_CHAT_PER_SECOND'));
    assert.throws(() => loadConfig({ MIA_MAX_MESSAGE_CHARS: '40000' }), /MIA_MAX_MESSAGE_CHARS/);
  });
});
