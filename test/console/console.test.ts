// The operator console, driven in a real Chromium (Debian's, through playwright-core):
// the operator signs in with the token, reads the queue, miners, businesses against
// their budgets, requeues a failed job with one click and reads a conversation. With
// MIA_SCREENSHOTS=1 the last test also writes the README's screenshots to
// docs/screenshots/.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, ConsoleMessage, Page } from 'playwright-core';
import { startTestApi, useTestApi, type TestApi } from '../support/apiServer.ts';
import { launchChromium, requireChromium } from '../support/browser.ts';
import { withClient } from '../support/database.ts';
import { claimJob, createBusiness, postResult, registerMiner, submitChat, type TestBusiness, type TestMiner } from '../support/factories.ts';

// The page's document, as the functions passed to page.waitForFunction see it (they run
// in the browser; the test's tsconfig has no DOM types).
declare const document: { querySelector(selector: string): { textContent: string | null; getAttribute(name: string): string | null } | null };

const screenshots = process.env.MIA_SCREENSHOTS === '1';
const screenshotDirectory = path.resolve(import.meta.dirname, '../../docs/screenshots');

/** A customer's chat answered by `miner`, returning the job id. */
async function answeredChat(api: TestApi, business: TestBusiness, miner: TestMiner, message: string, sessionId: string, answer: string) {
  const chat = await submitChat(api, business, { message, session_id: sessionId });
  assert.equal(chat.status, 202, chat.text);
  const claimed = await claimJob(api, miner);
  assert.equal(claimed.body.job_id, chat.body.job_id, 'the queue holds only this job');
  const done = await postResult(api, miner, claimed.body, { output: answer, tokens_generated: 42 });
  assert.equal(done.status, 200, done.text);
  return chat.body.job_id as string;
}

/** A chat whose every attempt the miner reports failed, until it is dead-lettered. */
async function failedChat(api: TestApi, business: TestBusiness, miner: TestMiner, message: string, sessionId: string, error: string) {
  const chat = await submitChat(api, business, { message, session_id: sessionId });
  for (;;) {
    const claimed = await claimJob(api, miner);
    assert.equal(claimed.body.job_id, chat.body.job_id, 'the queue holds only this job');
    const failed = await postResult(api, miner, claimed.body, { success: false, error, error_code: 'generation_error', output: undefined, tokens_generated: undefined });
    assert.equal(failed.status, 200, failed.text);
    if (failed.body.status === 'failed') return chat.body.job_id as string;
  }
}

async function setBudget(api: TestApi, business: TestBusiness, monthlyTokenBudget: number | null) {
  const res = await api.request('PATCH', `/businesses/${business.id}`, { token: api.adminToken, body: { monthly_token_budget: monthlyTokenBudget } });
  assert.equal(res.status, 200, res.text);
}

/** Waits until the element's text contains `expected` (the console polls; nothing here sleeps). */
async function waitForText(page: Page, selector: string, expected: string) {
  try {
    await page.waitForFunction(([s, text]) => document.querySelector(s)?.textContent?.includes(text) === true, [selector, expected] as const, { timeout: 15_000 });
  } catch {
    const actual = await page.locator(selector).first().textContent().catch(() => '(no such element)');
    assert.fail(`${selector} never showed ${JSON.stringify(expected)}; it shows ${JSON.stringify(actual)}`);
  }
}

async function jobStatusInDatabase(api: TestApi, jobId: string): Promise<string> {
  const { rows } = await withClient(api.databaseUrl, (client) => client.query<{ status: string }>('SELECT status FROM mia.jobs WHERE id = $1', [jobId]));
  return rows[0]!.status;
}

/** Console errors a page logs, less the browser's own line for each 4xx/5xx answer the console handles itself. */
function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  page.on('console', (message: ConsoleMessage) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource: the server responded with a status of')) errors.push(message.text());
  });
  return errors;
}

describe('operator console', function () {
  this.timeout(120_000);
  const api = useTestApi({}, { emptyQueueBeforeEach: false });

  describe('served by the API', () => {
    it('serves the page with a Content-Security-Policy that allows no inline script, and no secret in it', async () => {
      const res = await fetch(`${api.url}/console`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
      const policy = res.headers.get('content-security-policy') ?? '';
      assert.match(policy, /default-src 'none'/);
      assert.match(policy, /script-src 'self'(;|$)/, 'scripts from this origin only: no inline script, no eval');
      assert.match(policy, /frame-ancestors 'none'/);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      const html = await res.text();
      assert.ok(!html.includes(api.adminToken), 'the page holds no token');
      assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'every script is a file');
      assert.doesNotMatch(html, /\son[a-z]+=|\sstyle=/, 'no inline handlers or styles');
    });

    it('serves its modules and uPlot from node_modules under /console, with the same policy', async () => {
      for (const [file, type] of [['/console/main.js', /javascript/], ['/console/console.css', /css/], ['/console/vendor/uPlot.esm.js', /javascript/], ['/console/vendor/uPlot.min.css', /css/]] as const) {
        const res = await fetch(api.url + file);
        assert.equal(res.status, 200, file);
        assert.match(res.headers.get('content-type') ?? '', type, file);
        assert.ok(res.headers.get('content-security-policy'), `${file} carries the policy`);
        await res.arrayBuffer();
      }
    });

    it('answers a missing console file with the API error shape, and OPTIONS with Allow: GET', async () => {
      const missing = await api.request('GET', '/console/no-such-file.js');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error.code, 'not_found');
      const escape = await api.request('GET', '/console/..%2f..%2fpackage.json');
      assert.equal(escape.status, 404, 'no file outside api/console/ is served');
      const options = await api.request('OPTIONS', '/console');
      assert.equal(options.status, 204);
      assert.match(options.headers.get('allow') ?? '', /GET/);
    });
  });

  describe('in Chromium', () => {
    let browser: Browser;
    before(async function () {
      requireChromium(this);
      browser = await launchChromium();
    });
    after(async () => {
      await browser?.close();
    });

    it('signs in with the operator token; shows queue depth, miners, usage against budget, a failed job to requeue in one click, and a conversation', async () => {
      const velo = await createBusiness(api, { name: 'Velo Bikes' });
      const lumen = await createBusiness(api, { name: 'Café Lumen' });
      const miner = await registerMiner(api, { name: 'garage-4090', gpu_name: 'NVIDIA GeForce RTX 4090', gpu_memory_mb: 24564 });
      // The customer's message carries markup: the viewer must show it as text.
      const question = 'Do you repair e-bikes? <b>urgent</b>';
      const answer = 'Yes, we repair e-bikes of every brand; bring it in any weekday.';
      const answeredJob = await answeredChat(api, velo, miner, question, 'cust-42', answer);
      const failedJob = await failedChat(api, lumen, miner, 'Is the terrace open tonight?', 'cust-7', 'CUDA out of memory');
      const waiting = await submitChat(api, velo, { message: 'And do you sell helmets?', session_id: 'cust-43' });
      assert.equal(waiting.status, 202);
      await setBudget(api, velo, 1000);
      const usage = await api.request('GET', `/businesses/${velo.id}/usage`, { token: api.adminToken });
      const usedThisMonth: number = usage.body.budget.used_this_month;
      assert.ok(usedThisMonth > 0, 'the answered chat counts against the budget');

      const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
      const errors = collectPageErrors(page);
      try {
        await page.goto(`${api.url}/console`);

        // A business key is not the operator token.
        await page.fill('#token', velo.api_key);
        await page.click('#sign-in-form button[type=submit]');
        await waitForText(page, '#sign-in-error', 'not the operator token');
        assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'a refused token is not kept');

        await page.fill('#token', api.adminToken);
        await page.click('#sign-in-form button[type=submit]');
        await page.locator('#console').waitFor({ state: 'visible' });
        assert.equal(await page.inputValue('#token'), '', 'the token leaves the form once signed in');

        // Queue depth: the one waiting chat, and the chart drawn by uPlot from the samples.
        await waitForText(page, '#queue-queued', '1');
        assert.equal(await page.textContent('#queue-running'), '0');
        assert.equal(await page.textContent('#queue-miners-online'), '1');
        assert.equal(await page.textContent('#queue-failed-last-hour'), '1');
        await page.locator('#queue-chart .uplot canvas').waitFor();

        // Miners and their state.
        const minerRow = page.locator(`#miners-rows tr[data-miner-id="${miner.miner_id}"]`);
        await minerRow.waitFor();
        assert.match((await minerRow.textContent()) ?? '', /garage-4090.*idle.*NVIDIA GeForce RTX 4090/);

        // Businesses with usage against budget.
        const veloRow = page.locator(`#businesses-rows tr[data-business-id="${velo.id}"]`);
        await veloRow.waitFor();
        const veloUsage = (await veloRow.locator('td.usage').textContent()) ?? '';
        assert.ok(veloUsage.includes(`${usedThisMonth.toLocaleString('en')} of 1,000 tokens`), veloUsage);
        assert.ok(await veloRow.locator('.bar .bar-used').isVisible(), 'the usage bar is drawn');
        assert.match((await page.locator(`#businesses-rows tr[data-business-id="${lumen.id}"] td.usage`).textContent()) ?? '', /no budget/);

        // The failed job with its reason, requeued with one click.
        const failedRow = page.locator(`#jobs-rows tr[data-job-id="${failedJob}"]`);
        await failedRow.waitFor();
        // Our words for the miner's code (api/jobs/failureReason.ts), never the miner's own text.
        assert.equal(await failedRow.locator('td.reason').textContent(), 'generation_error: the model server failed while generating');
        assert.match((await failedRow.textContent()) ?? '', /Café Lumen.*cust-7.*failed/);
        await failedRow.locator('button.requeue').click();
        await page.locator(`#jobs-rows tr[data-job-id="${failedJob}"][data-status="queued"]`).waitFor();
        await waitForText(page, `#jobs-rows tr[data-job-id="${failedJob}"] td.action`, 'Requeued');
        assert.equal(await jobStatusInDatabase(api, failedJob), 'queued', 'the job is queued again in the database');
        await waitForText(page, '#queue-queued', '2');

        // The conversation, opened from the job list.
        await page.selectOption('#jobs-status', 'completed');
        const answeredRow = page.locator(`#jobs-rows tr[data-job-id="${answeredJob}"]`);
        await answeredRow.locator('button.open-session').click();
        const turn = page.locator(`#conversation-turns li[data-job-id="${answeredJob}"]`);
        await turn.waitFor();
        assert.equal(await turn.locator('.message').textContent(), question, "the customer's message, markup shown as text");
        assert.equal(await turn.locator('.message b').count(), 0, 'no markup from a customer is parsed');
        assert.equal(await turn.locator('.answer').textContent(), answer);
        assert.match(page.url(), new RegExp(`#session=${velo.id}/cust-42$`), 'the view can be linked');

        // A reload keeps the session (sessionStorage) and reopens the linked conversation.
        await page.reload();
        await page.locator(`#conversation-turns li[data-job-id="${answeredJob}"] .answer`).waitFor();

        // Signing out forgets the token.
        await page.click('#sign-out');
        await page.locator('#sign-in').waitFor({ state: 'visible' });
        assert.equal(await page.evaluate(() => sessionStorage.getItem('mia.operatorToken')), null);

        // A token the API stops accepting (rotated, mistyped) signs the console out.
        await page.evaluate(() => sessionStorage.setItem('mia.operatorToken', 'not-the-token-any-more'));
        await page.reload();
        await waitForText(page, '#sign-in-error', 'refused the token');
        assert.equal(await page.evaluate(() => sessionStorage.getItem('mia.operatorToken')), null);

        assert.deepEqual(errors, [], 'no script error and no Content-Security-Policy violation');
      } finally {
        await page.close();
      }
    });

    if (screenshots) {
      it('writes the README screenshots to docs/screenshots/ (MIA_SCREENSHOTS=1)', async () => {
        await screenshotScene(browser);
      });
    }
  });
});

/**
 * A fuller scene than the test needs, on an API of its own: a few miners and businesses,
 * and a queue that fills while miners take and answer jobs, sampled by the console
 * twice a second so the chart has a shape. Miners answer a few samples after claiming,
 * so their tokens per second look like a GPU's, not like an instant test double's.
 */
async function screenshotScene(browser: Browser) {
  mkdirSync(screenshotDirectory, { recursive: true });
  const api = await startTestApi();
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
  try {
    const bistro = await createBusiness(api, { name: 'Bistro Nord' });
    const fixit = await createBusiness(api, { name: 'FixIt Phones' });
    const velo = await createBusiness(api, { name: 'Velo Bikes' });
    await createBusiness(api, { name: 'Café Lumen' });
    const qwen = 'qwen2.5-7b-instruct-q4_k_m.gguf';
    const miners = [
      await registerMiner(api, { name: 'lab-a100', gpu_name: 'NVIDIA A100-SXM4-80GB', gpu_memory_mb: 81920, model: qwen, context_length: 32768, slots: 4 }),
      await registerMiner(api, { name: 'attic-3090', gpu_name: 'NVIDIA GeForce RTX 3090', gpu_memory_mb: 24576, model: qwen, context_length: 16384, slots: 2 }),
    ];
    const draining = await registerMiner(api, { name: 'studio-4070', gpu_name: 'NVIDIA GeForce RTX 4070', gpu_memory_mb: 12282, model: 'llama-3.2-3b-instruct-q8_0.gguf', context_length: 8192, slots: 1 });
    await api.request('POST', `/miner/${draining.miner_id}/status`, { token: draining.auth_key, body: { status: 'draining' } });
    await failedChat(api, fixit, miners[1]!, 'Can you unlock my phone?', 'ticket-312', 'llama-server exited (signal 9) while generating');

    await page.goto(`${api.url}/console?poll=0.5`);
    await page.fill('#token', api.adminToken);
    await page.click('#sign-in-form button[type=submit]');
    await page.locator('#queue-chart .uplot').waitFor();
    const afterSamples = async (n: number) => {
      const target = Number(await page.getAttribute('#queue-chart', 'data-samples')) + n;
      await page.waitForFunction((t) => Number(document.querySelector('#queue-chart')?.getAttribute('data-samples')) >= t, target, { timeout: 30_000 });
    };

    type Claimed = { miner: TestMiner; job: { job_id: string; lease_token: string; session_id: string }; answer: string };
    const running: Claimed[] = [];
    const reply = 'Thanks for asking! Here is what you need to know: we are open Monday to Saturday from 9:00 to 18:00, and you can book online or just drop by; most requests are handled the same day.';
    const answers = new Map<string, string[]>([
      ['tisch-12', ['Ja, am Samstag haben wir ab 18 Uhr einen Tisch für 6 Personen frei.', 'Ja: drei vegetarische Hauptgerichte, und die Suppe des Tages ist vegan.']],
      ['cust-88', ['About 30 minutes per wheel; you can wait in the shop.']],
    ]);
    const take = async (miner: TestMiner) => {
      const job = await claimJob(api, miner);
      if (job.status === 200) running.push({ miner, job: job.body, answer: answers.get(job.body.session_id)?.shift() ?? reply });
    };
    await submitChat(api, bistro, { message: 'Können wir am Samstag für 6 Personen reservieren?', session_id: 'tisch-12' });
    await take(miners[0]!);
    await submitChat(api, velo, { message: 'How long does a tubeless conversion take?', session_id: 'cust-88' });
    await take(miners[1]!);
    await submitChat(api, bistro, { message: 'Und habt ihr vegetarische Gerichte?', session_id: 'tisch-12' });
    const customers = [bistro, fixit, velo];
    for (let step = 0; step < 16; step++) {
      for (let i = 0; i < (step < 10 ? 1 + (step % 3) : step % 2); i++) {
        await submitChat(api, customers[(step + i) % 3]!, { message: `Question ${step}.${i}`, session_id: `scene-${step}-${i}` });
      }
      if (step >= 3 && step % 2 === 1) {
        // About four bytes a token, as for English text (the API refuses more tokens than bytes).
        for (const done of running.splice(0, 2)) await postResult(api, done.miner, done.job, { output: done.answer, tokens_generated: Math.ceil(Buffer.byteLength(done.answer) / 4) });
        for (const miner of miners) await take(miner);
      }
      await afterSamples(2);
    }
    const usage = async (business: TestBusiness) => {
      await setBudget(api, business, 1_000_000); // the usage report has the month's tokens once there is a budget
      return (await api.request('GET', `/businesses/${business.id}/usage`, { token: api.adminToken })).body.budget.used_this_month as number;
    };
    await setBudget(api, bistro, Math.ceil((await usage(bistro)) * 2.8));
    await setBudget(api, fixit, Math.ceil((await usage(fixit)) * 1.15 + 1));
    await setBudget(api, velo, 5000);
    await page.click('#refresh');
    await page.locator(`#businesses-rows tr:nth-child(2) .bar`).waitFor();
    await afterSamples(1);
    await page.screenshot({ path: path.join(screenshotDirectory, 'console.png'), fullPage: true });

    await page.selectOption('#jobs-status', 'completed');
    await page.locator('#jobs-rows tr button.open-session', { hasText: 'tisch-12' }).first().click();
    await page.locator('#conversation-turns li:nth-child(2) .answer').waitFor();
    await page.locator('#conversation').screenshot({ path: path.join(screenshotDirectory, 'console-conversation.png') });
  } finally {
    await page.close();
    await api.close();
  }
}
