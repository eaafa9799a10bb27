import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { startTestApi, type TestApi } from '../support/apiServer.ts';
import {
  claimJob,
  postResult,
  registerMiner,
  submitChat,
  type TestBusiness,
} from '../support/factories.ts';
import {
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

/** What a receiver does: recompute the HMAC over the raw body and compare in constant time. */
function signatureValid(hook: ReceivedWebhook, secret: string): boolean {
  const expected = Buffer.from(
    `sha256=${createHmac('sha256', secret).update(hook.body).digest('hex')}`,
  );
  const given = Buffer.from(String(hook.headers['x-mia-signature'] ?? ''));
  return given.length === expected.length && timingSafeEqual(given, expected);
}

async function createBusinessWithSecret(
  api: TestApi,
): Promise<TestBusiness & { webhook_secret: string }> {
  const res = await api.request('POST', '/businesses', {
    token: api.adminToken,
    body: { name: 'webhook shop' },
  });
  assert.equal(res.status, 201);
  assert.match(res.body.webhook_secret, /^mia_wh_/);
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

describe('completion webhooks', () => {
  describe('delivery (private targets allowed, receiver on 127.0.0.1)', () => {
    let api: TestApi;
    let receiver: WebhookReceiver;
    // The first delivery of each job gets a 500 when the test asks for it.
    const failFirstOf = new Set<number>();
    before(async () => {
      api = await startTestApi({ env: { MIA_WEBHOOK_ALLOW_PRIVATE: 'true' } });
      receiver = await startWebhookReceiver((n) => (failFirstOf.has(n) ? 500 : 204));
    });
    after(async () => {
      await api.close();
      await receiver.close();
    });

    it('POSTs the finished job to callback_url, signed with the business webhook secret', async () => {
      const business = await createBusinessWithSecret(api);
      const miner = await registerMiner(api);
      const chat = await submitChat(api, business, {
        message: 'Where is parcel 7?',
        session_id: 'hook-1',
        callback_url: receiver.url,
      });
      const claimed = await claimJob(api, miner);
      await postResult(api, miner, claimed.body, {
        output: 'Parcel 7 is in Oslo.',
        tokens_generated: 6,
      });

      const start = receiver.received.length;
      const hook = await waitFor('the webhook', async () =>
        receiver.received.slice(start).find((h) => h.body.includes(chat.body.job_id)),
      );
      assert.equal(hook.headers['content-type'], 'application/json');
      assert.ok(
        signatureValid(hook, business.webhook_secret),
        'X-MIA-Signature is the HMAC-SHA256 of the raw body',
      );
      assert.equal(signatureValid(hook, 'some other secret'), false);
      const body = JSON.parse(hook.body);
      assert.equal(body.event, 'job.finished');
      assert.equal(body.job_id, chat.body.job_id);
      assert.equal(body.session_id, 'hook-1');
      assert.equal(body.status, 'completed');
      assert.equal(body.response, 'Parcel 7 is in Oslo.');
      assert.equal(body.tokens_generated, 6);
      assert.equal(body.error, null);
      assert.equal(body.delivery.attempt, 1);
    });

    it('retries a delivery the receiver answered with 500, and signs the retry too', async function () {
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
      assert.ok(deliveries.every((h) => signatureValid(h, business.webhook_secret)));
      await waitFor(
        'the delivery job to finish',
        async () => (await pendingWebhookJobs(api.databaseUrl)) === 0,
      );
      assert.equal(
        receiver.received.filter((h) => h.body.includes(chat.body.job_id)).length,
        2,
        'no delivery after a 2xx',
      );
    });

    it('reports a cancelled job with status cancelled', async () => {
      const business = await createBusinessWithSecret(api);
      const chat = await submitChat(api, business, { callback_url: receiver.url });
      await api.request('DELETE', `/job/${chat.body.job_id}`, { token: business.api_key });
      const hook = await waitFor('the webhook', async () =>
        receiver.received.find((h) => h.body.includes(chat.body.job_id)),
      );
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
      assert.notEqual(rotated.body.webhook_secret, business.webhook_secret);
      const chat = await submitChat(api, business, { callback_url: receiver.url });
      await api.request('DELETE', `/job/${chat.body.job_id}`, { token: business.api_key });
      const hook = await waitFor('the webhook', async () =>
        receiver.received.find((h) => h.body.includes(chat.body.job_id)),
      );
      assert.ok(signatureValid(hook, rotated.body.webhook_secret));
      assert.equal(signatureValid(hook, business.webhook_secret), false);
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

  describe('target policy (private targets not allowed, the default)', () => {
    let api: TestApi;
    let receiver: WebhookReceiver;
    before(async () => {
      api = await startTestApi();
      receiver = await startWebhookReceiver();
    });
    after(async () => {
      await api.close();
      await receiver.close();
    });

    it('refuses to call a callback_url on 127.0.0.1 and does not retry it', async () => {
      const business = await createBusinessWithSecret(api);
      const miner = await registerMiner(api);
      await submitChat(api, business, { callback_url: receiver.url });
      await postResult(api, miner, (await claimJob(api, miner)).body);
      const [queued] = await sql<{ n: string }>(
        api.databaseUrl,
        `SELECT count(*) AS n FROM graphile_worker.jobs WHERE task_identifier = 'mia.webhook_send'`,
      );
      assert.ok(Number(queued!.n) <= 1);
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
