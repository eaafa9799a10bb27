import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { useTestApi, type TestApi } from '../support/apiServer.ts';
import {
  claimJob,
  postResult,
  registerMiner,
  submitChat,
  type TestBusiness,
} from '../support/factories.ts';
import {
  callbackUrlRefusal,
  isPublicAddress,
  resolveWebhookTarget,
  WebhookRefusedError,
} from '../../api/maintenance/webhookTarget.ts';
import {
  sql,
  startWebhookReceiver,
  waitFor,
  type ReceivedWebhook,
  type WebhookReceiver,
} from './support.ts';

// The receiver's side, written with the `standardwebhooks` package: an
// implementation of the spec independent of ours.
function verifyStandard(hook: ReceivedWebhook, secret: string): unknown {
  return new Webhook(secret).verify(hook.body, hook.headers as Record<string, string>);
}

function standardValid(hook: ReceivedWebhook, secret: string): boolean {
  try {
    verifyStandard(hook, secret);
    return true;
  } catch (error) {
    if (error instanceof WebhookVerificationError) return false;
    throw error;
  }
}

/** The deprecated X-MIA-Signature, as receivers written against it check it. */
function legacyValid(hook: ReceivedWebhook, secret: string): boolean {
  const expected = Buffer.from(
    `sha256=${createHmac('sha256', secret).update(hook.body).digest('hex')}`,
  );
  const given = Buffer.from(String(hook.headers['x-mia-signature'] ?? ''));
  return given.length === expected.length && timingSafeEqual(given, expected);
}

type ReadmeVerifier = (
  secret: string,
  headers: Record<string, unknown>,
  rawBody: string,
  toleranceSeconds?: number,
) => boolean;

/** The verification snippet of README.md (section Webhooks), run as it is printed there. */
async function readmeVerifier(): Promise<ReadmeVerifier> {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const block = /```js\n([\s\S]*?function verifyMiaWebhook[\s\S]*?)```/.exec(readme);
  assert.ok(block, 'README.md has the verifyMiaWebhook snippet');
  const source = `${block[1]}\nexport { verifyMiaWebhook };\n`;
  const module = await import(`data:text/javascript,${encodeURIComponent(source)}`);
  return module.verifyMiaWebhook as ReadmeVerifier;
}

type BusinessWithSecret = TestBusiness & { webhook_secret: string };

async function createBusinessWithSecret(api: TestApi): Promise<BusinessWithSecret> {
  const res = await api.request('POST', '/businesses', {
    token: api.adminToken,
    body: { name: 'webhook shop' },
  });
  assert.equal(res.status, 201);
  return res.body;
}

const pendingWebhookJobs = async (url: string) =>
  Number(
    (
      await sql<{ n: string }>(
        url,
        `SELECT count(*) AS n FROM graphile_worker.jobs WHERE task_identifier = 'mia.webhook_send'`,
      )
    )[0]!.n,
  );

async function finishedJob(api: TestApi, business: TestBusiness, jobId: string) {
  const res = await api.request('GET', `/job/${jobId}/result`, { token: business.api_key });
  assert.equal(res.status, 200, res.text);
  return res.body;
}

describe('completion webhooks', () => {
  describe('delivery (private targets allowed, receiver on 127.0.0.1)', () => {
    const api = useTestApi({ env: { MIA_WEBHOOK_ALLOW_PRIVATE: 'true' } });
    let receiver: WebhookReceiver;
    // The first delivery of each job gets a 500 when the test asks for it.
    const failFirstOf = new Set<number>();
    before(async () => {
      receiver = await startWebhookReceiver((n) => (failFirstOf.has(n) ? 500 : 204));
    });
    after(async () => {
      await receiver.close();
    });
    const hookOf = (jobId: string) =>
      waitFor('the webhook', async () =>
        receiver.received.find((h) => h.body.includes(jobId)),
      );

    it('issues Standard Webhooks secrets (whsec_ and a base64 key of 32 bytes)', async () => {
      const business = await createBusinessWithSecret(api);
      assert.match(business.webhook_secret, /^whsec_[A-Za-z0-9+/]+=*$/);
      assert.equal(Buffer.from(business.webhook_secret.slice(6), 'base64').length, 32);
    });

    it('POSTs the finished job to callback_url, signed as Standard Webhooks says', async () => {
      const business = await createBusinessWithSecret(api);
      const miner = await registerMiner(api);
      const chat = await submitChat(api, business, {
        message: 'Where is parcel 7?',
        session_id: 'hook-1',
        callback_url: receiver.url,
      });
      assert.equal(chat.status, 202, chat.text);
      const claimed = await claimJob(api, miner);
      await postResult(api, miner, claimed.body, {
        output: 'Parcel 7 is in Oslo.',
        tokens_generated: 6,
      });

      const hook = await hookOf(chat.body.job_id);
      assert.equal(hook.headers['content-type'], 'application/json');
      assert.match(String(hook.headers['webhook-id']), /^msg_[0-9a-f]{32}$/);
      assert.match(String(hook.headers['webhook-timestamp']), /^\d+$/);
      assert.match(String(hook.headers['webhook-signature']), /^v1,[A-Za-z0-9+/]+=*$/);
      // The library checks the signature over id, timestamp and body, and the timestamp's age.
      const verified = verifyStandard(hook, business.webhook_secret) as Record<string, unknown>;
      assert.equal(verified.job_id, chat.body.job_id);
      assert.equal(standardValid(hook, `whsec_${Buffer.alloc(32, 7).toString('base64')}`), false);
      assert.equal(
        standardValid({ ...hook, body: hook.body.replace('Oslo', 'Rome') }, business.webhook_secret),
        false,
        'a changed body fails',
      );
      assert.equal(
        standardValid(
          { ...hook, headers: { ...hook.headers, 'webhook-id': 'msg_other' } },
          business.webhook_secret,
        ),
        false,
        'the id is signed',
      );
      assert.ok(legacyValid(hook, business.webhook_secret), 'X-MIA-Signature is still sent');

      const body = JSON.parse(hook.body);
      assert.equal(body.event, 'job.finished');
      assert.equal(body.job_id, chat.body.job_id);
      assert.equal(body.session_id, 'hook-1');
      assert.equal(body.status, 'completed');
      assert.equal(body.response, 'Parcel 7 is in Oslo.');
      assert.equal(body.tokens_generated, 6);
      assert.equal(body.error, null);
      assert.equal(body.delivery.attempt, 1);

      const result = await waitFor('the delivery to be recorded', async () => {
        const job = await finishedJob(api, business, chat.body.job_id);
        return job.webhook?.status === 'delivered' ? job : undefined;
      });
      assert.equal(result.webhook.webhook_id, hook.headers['webhook-id']);
      assert.equal(result.webhook.attempts, 1);
      assert.equal(result.webhook.last_error, null);
      assert.ok(result.webhook.delivered_at);
    });

    it("is verified by the README's Node snippet, which refuses a replay and a forgery", async () => {
      const verify = await readmeVerifier();
      const business = await createBusinessWithSecret(api);
      const chat = await submitChat(api, business, { callback_url: receiver.url });
      await api.request('DELETE', `/job/${chat.body.job_id}`, { token: business.api_key });
      const hook = await hookOf(chat.body.job_id);
      assert.equal(verify(business.webhook_secret, hook.headers, hook.body), true);
      assert.equal(verify(business.webhook_secret, hook.headers, `${hook.body} `), false);
      const other = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
      assert.equal(verify(other, hook.headers, hook.body), false);
      // Replayed later: 10 minutes past the signed timestamp.
      const realNow = Date.now;
      Date.now = () => realNow() + 10 * 60_000;
      try {
        assert.equal(verify(business.webhook_secret, hook.headers, hook.body), false);
      } finally {
        Date.now = realNow;
      }
    });

    it('lets the receiver refuse a replay: the signed timestamp grows old', async () => {
      const business = await createBusinessWithSecret(api);
      const chat = await submitChat(api, business, { callback_url: receiver.url });
      await api.request('DELETE', `/job/${chat.body.job_id}`, { token: business.api_key });
      const hook = await hookOf(chat.body.job_id);
      assert.ok(standardValid(hook, business.webhook_secret), 'fresh, it verifies');

      // The same request replayed 10 minutes later, as an attacker who captured it would.
      const realNow = Date.now;
      Date.now = () => realNow() + 10 * 60_000;
      try {
        assert.throws(() => verifyStandard(hook, business.webhook_secret), /timestamp too old/);
      } finally {
        Date.now = realNow;
      }
      // Freshening the timestamp breaks the signature: it is signed.
      const freshened = {
        ...hook.headers,
        'webhook-timestamp': String(Number(hook.headers['webhook-timestamp']) + 1),
      };
      assert.throws(
        () => verifyStandard({ ...hook, headers: freshened }, business.webhook_secret),
        /signature/i,
      );
    });

    it('retries a delivery the receiver answered with 500 under the same webhook-id, signed again', async function () {
      this.timeout(30_000); // graphile-worker's first retry comes after e^1 ≈ 2.7 s
      const business = await createBusinessWithSecret(api);
      const miner = await registerMiner(api);
      failFirstOf.add(receiver.received.length + 1);
      const chat = await submitChat(api, business, { callback_url: receiver.url });
      await postResult(api, miner, (await claimJob(api, miner)).body);

      const deliveries = await waitFor(
        'a retried webhook',
        async () => {
          const mine = receiver.received.filter((h) => h.body.includes(chat.body.job_id));
          return mine.length >= 2 ? mine : undefined;
        },
        20_000,
      );
      assert.deepEqual(
        deliveries.map((h) => h.answeredWith),
        [500, 204],
      );
      assert.deepEqual(
        deliveries.map((h) => JSON.parse(h.body).delivery.attempt),
        [1, 2],
      );
      assert.equal(deliveries[0]!.headers['webhook-id'], deliveries[1]!.headers['webhook-id']);
      assert.ok(deliveries.every((h) => standardValid(h, business.webhook_secret)));
      await waitFor(
        'the delivery job to finish',
        async () => (await pendingWebhookJobs(api.databaseUrl)) === 0,
      );
      assert.equal(
        receiver.received.filter((h) => h.body.includes(chat.body.job_id)).length,
        2,
        'no delivery after a 2xx',
      );
      const { webhook } = await finishedJob(api, business, chat.body.job_id);
      assert.equal(webhook.status, 'delivered');
      assert.equal(webhook.attempts, 2);
    });

    it('gives a job that finishes again a new webhook-id', async () => {
      const business = await createBusinessWithSecret(api);
      const chat = await submitChat(api, business, { callback_url: receiver.url });
      await api.request('DELETE', `/job/${chat.body.job_id}`, { token: business.api_key });
      const first = await hookOf(chat.body.job_id);
      const requeued = await api.request('POST', `/job/${chat.body.job_id}/requeue`, {
        token: api.adminToken,
      });
      assert.equal(requeued.status, 200, requeued.text);
      await api.request('DELETE', `/job/${chat.body.job_id}`, { token: business.api_key });
      const second = await waitFor('the second webhook', async () => {
        const mine = receiver.received.filter((h) => h.body.includes(chat.body.job_id));
        return mine.length >= 2 ? mine[1] : undefined;
      });
      assert.notEqual(second.headers['webhook-id'], first.headers['webhook-id']);
      assert.ok(standardValid(second, business.webhook_secret));
      const { webhook } = await waitFor('the second delivery to be recorded', async () => {
        const job = await finishedJob(api, business, chat.body.job_id);
        return job.webhook?.status === 'delivered' ? job : undefined;
      });
      assert.equal(webhook.webhook_id, second.headers['webhook-id']);
    });

    it('keeps signing for a business with a secret from before Standard Webhooks (mia_wh_)', async () => {
      const business = await createBusinessWithSecret(api);
      const legacy = 'mia_wh_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
      await sql(api.databaseUrl, 'UPDATE mia.businesses SET webhook_secret = $1 WHERE id = $2', [
        legacy,
        business.id,
      ]);
      const chat = await submitChat(api, business, { callback_url: receiver.url });
      await api.request('DELETE', `/job/${chat.body.job_id}`, { token: business.api_key });
      const hook = await hookOf(chat.body.job_id);
      assert.ok(legacyValid(hook, legacy), 'X-MIA-Signature as before');
      // What the README tells such a business to give a Standard Webhooks library.
      const converted = `whsec_${Buffer.from(legacy, 'utf8').toString('base64')}`;
      assert.ok(standardValid(hook, converted));
    });

    it('reports a cancelled job with status cancelled', async () => {
      const business = await createBusinessWithSecret(api);
      const chat = await submitChat(api, business, { callback_url: receiver.url });
      await api.request('DELETE', `/job/${chat.body.job_id}`, { token: business.api_key });
      const hook = await hookOf(chat.body.job_id);
      assert.equal(JSON.parse(hook.body).status, 'cancelled');
    });

    it('signs with the new secret after rotate_webhook_secret', async () => {
      const business = await createBusinessWithSecret(api);
      const rotated = await api.request(
        'POST',
        `/businesses/${business.id}/rotate_webhook_secret`,
        { token: api.adminToken },
      );
      assert.equal(rotated.status, 200);
      assert.match(rotated.body.webhook_secret, /^whsec_/);
      assert.notEqual(rotated.body.webhook_secret, business.webhook_secret);
      const chat = await submitChat(api, business, { callback_url: receiver.url });
      await api.request('DELETE', `/job/${chat.body.job_id}`, { token: business.api_key });
      const hook = await hookOf(chat.body.job_id);
      assert.ok(standardValid(hook, rotated.body.webhook_secret));
      assert.equal(standardValid(hook, business.webhook_secret), false);
    });

    it('shows no webhook on the result of a job without callback_url', async () => {
      const business = await createBusinessWithSecret(api);
      const chat = await submitChat(api, business);
      await api.request('DELETE', `/job/${chat.body.job_id}`, { token: business.api_key });
      assert.equal((await finishedJob(api, business, chat.body.job_id)).webhook, null);
    });

    it('never shows the webhook secret again after creation', async () => {
      const business = await createBusinessWithSecret(api);
      const read = await api.request('GET', `/businesses/${business.id}`, {
        token: api.adminToken,
      });
      assert.equal(read.status, 200);
      assert.equal(read.text.includes(business.webhook_secret), false);
    });
  });

  describe('a receiver that never takes the webhook (one attempt allowed)', () => {
    const api = useTestApi({
      env: { MIA_WEBHOOK_ALLOW_PRIVATE: 'true', MIA_WEBHOOK_MAX_ATTEMPTS: '1' },
    });
    let receiver: WebhookReceiver;
    before(async () => {
      receiver = await startWebhookReceiver(() => 503);
    });
    after(async () => {
      await receiver.close();
    });

    it('records the given-up delivery where the business sees it', async () => {
      const business = await createBusinessWithSecret(api);
      const chat = await submitChat(api, business, { callback_url: receiver.url });
      await api.request('DELETE', `/job/${chat.body.job_id}`, { token: business.api_key });
      const { webhook } = await waitFor('the failure to be recorded', async () => {
        const job = await finishedJob(api, business, chat.body.job_id);
        return job.webhook?.status === 'failed' ? job : undefined;
      });
      assert.equal(webhook.attempts, 1);
      assert.equal(webhook.last_response_status, 503);
      assert.equal(webhook.last_error, 'receiver answered 503');
      assert.equal(webhook.delivered_at, null);
      assert.equal(receiver.received.filter((h) => h.body.includes(chat.body.job_id)).length, 1);
    });
  });

  describe('target policy (private targets not allowed, the default)', () => {
    const api = useTestApi();
    let receiver: WebhookReceiver;
    before(async () => {
      receiver = await startWebhookReceiver();
    });
    after(async () => {
      await receiver.close();
    });

    for (const [what, url] of [
      ['127.0.0.1', 'http://127.0.0.1:8080/hook'],
      ['localhost (a name resolving to loopback)', 'http://localhost/hook'],
      ['the cloud metadata address', 'http://169.254.169.254/latest/meta-data'],
      ['a private IPv6 address', 'http://[fd12:3456::1]/hook'],
    ] as const) {
      it(`refuses a callback_url on ${what} at submit with 400 naming callback_url`, async () => {
        const business = await createBusinessWithSecret(api);
        const res = await submitChat(api, business, { callback_url: url });
        assert.equal(res.status, 400, res.text);
        assert.equal(res.body.error.code, 'bad_request');
        assert.match(res.body.error.message, /^callback_url is refused: .*non-public address/);
        const [{ n }] = (await sql<{ n: number }>(
          api.databaseUrl,
          'SELECT count(*)::int AS n FROM mia.jobs WHERE business_id = $1',
          [business.id],
        )) as [{ n: number }];
        assert.equal(n, 0, 'no job was created');
      });
    }

    it('accepts a callback_url whose host does not resolve yet (the delivery retries)', async () => {
      assert.equal(await callbackUrlRefusal('https://hooks.example.invalid/mia', false), null);
      assert.equal(await callbackUrlRefusal('https://93.184.216.34/hook', false), null);
      assert.match(
        (await callbackUrlRefusal('http://user:pw@93.184.216.34/x', false)) ?? '',
        /credentials/,
      );
      assert.equal(await callbackUrlRefusal('http://127.0.0.1/hook', true), null);
    });

    it('refuses at delivery a target that turned private after submit, records it and does not retry', async () => {
      const business = await createBusinessWithSecret(api);
      const chat = await submitChat(api, business, { callback_url: 'https://93.184.216.34/hook' });
      assert.equal(chat.status, 202, chat.text);
      // As if the name's DNS answer had changed to the receiver on 127.0.0.1 since the submit.
      await sql(api.databaseUrl, 'UPDATE mia.jobs SET callback_url = $1 WHERE id = $2', [
        receiver.url,
        chat.body.job_id,
      ]);
      await api.request('DELETE', `/job/${chat.body.job_id}`, { token: business.api_key });
      const { webhook } = await waitFor('the refusal to be recorded', async () => {
        const job = await finishedJob(api, business, chat.body.job_id);
        return job.webhook?.status === 'failed' ? job : undefined;
      });
      assert.equal(webhook.attempts, 1);
      assert.match(webhook.last_error, /resolves to a non-public address \(127\.0\.0\.1\)/);
      assert.doesNotMatch(webhook.last_error, /receiver-secret/, 'the URL (and its token) is not shown');
      await waitFor(
        'the delivery job to be done with',
        async () => (await pendingWebhookJobs(api.databaseUrl)) === 0,
      );
      assert.equal(receiver.received.length, 0);
    });

    it('refuses loopback, private, link-local and mapped addresses, IPv4 and IPv6', async () => {
      for (const address of [
        '127.0.0.1',
        '10.1.2.3',
        '172.16.0.1',
        '192.168.1.1',
        '169.254.169.254',
        '100.64.0.1',
        '0.0.0.0',
        '::1',
        '::',
        'fe80::1',
        'fd12:3456::1',
        '::ffff:127.0.0.1',
        '::ffff:10.0.0.1',
        '64:ff9b::a00:1',
        'ff02::1',
      ]) {
        assert.equal(isPublicAddress(address), false, address);
      }
      for (const address of [
        '93.184.216.34',
        '8.8.8.8',
        '2606:4700:4700::1111',
        '::ffff:8.8.8.8',
      ]) {
        assert.equal(isPublicAddress(address), true, address);
      }
      for (const url of [
        'http://127.0.0.1:8080/hook',
        'http://[::1]/hook',
        'https://[::ffff:7f00:1]/',
        'http://localhost/hook',
        'http://169.254.169.254/latest/meta-data',
      ]) {
        await assert.rejects(resolveWebhookTarget(url, false), WebhookRefusedError, url);
      }
      await assert.rejects(
        resolveWebhookTarget('ftp://93.184.216.34/x', false),
        WebhookRefusedError,
      );
      await assert.rejects(
        resolveWebhookTarget('http://user:pw@93.184.216.34/x', false),
        WebhookRefusedError,
      );
      const allowed = await resolveWebhookTarget('https://93.184.216.34/hook', false);
      assert.equal(allowed.address, '93.184.216.34');
      const local = await resolveWebhookTarget('http://127.0.0.1:9/hook', true);
      assert.equal(
        local.address,
        '127.0.0.1',
        'MIA_WEBHOOK_ALLOW_PRIVATE lets local targets through',
      );
    });
  });
});
