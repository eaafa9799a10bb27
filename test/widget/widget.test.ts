// The chat widget in a real Chromium: a shop's page, served from its own origin (another
// port), carries one script tag; a customer types into the widget, the real `mia-miner`
// with the llama-server double generates slowly enough that the answer visibly grows, and
// the conversation is stored under the widget's session. Tokens are held to their origin,
// expire, and end with their origin; the page's CSS and CSP do not reach the widget.
// A hand-driven miner shows a retracted stream wiped and an answer followed onto the next
// page. MIA_SCREENSHOTS=1 writes docs/screenshots/widget.png mid-answer.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startTestApi, type TestApi } from '../support/apiServer.ts';
import { chromiumAvailable, launchChromium, requireChromium } from '../support/browser.ts';
import { createTestDatabase, withClient, type TestDatabase } from '../support/database.ts';
import { claimJob, createBusiness, postResult, registerMiner, type TestBusiness } from '../support/factories.ts';
import { eventually, fakeMinerRun, type MinerProcess, repoRoot, tempDir } from '../miner/helpers.ts';

type ShopPage = { origin: string; close: () => Promise<void> };

/**
 * A shop's site on its own port (so its own origin): `/` carries the widget tag, `/own-backend`
 * the tag with data-token-url, whose `/token` mints through the business's key server-side
 * as a business backend would. A strict CSP (no inline script or style) and hostile CSS.
 */
async function startShop(api: TestApi, business: TestBusiness): Promise<ShopPage> {
  let origin = '';
  const server: Server = createServer((req, res) => {
    const tag = (extra: string) =>
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Velo bikes</title>
       <link rel="stylesheet" href="/shop.css"></head>
       <body><h1>Velo bikes</h1><p>Road, gravel and city bikes since 1998.</p>
       <button class="buy">Buy now</button>
       <script src="${api.url}/widget.js" data-business="${business.id}" ${extra} async></script></body></html>`;
    const csp = `default-src 'none'; script-src ${api.url}; connect-src ${api.url} 'self'; style-src 'self'`;
    if (req.method === 'GET' && (req.url === '/' || req.url === '/own-backend')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': csp });
      res.end(tag(req.url === '/own-backend' ? 'data-token-url="/token"' : ''));
    } else if (req.method === 'GET' && req.url === '/shop.css') {
      // What a careless shop stylesheet does to everything on its page.
      res.writeHead(200, { 'content-type': 'text/css' });
      res.end('body { font: 18px Georgia, serif; background: #fdf6e3; margin: 40px; } button { background: red !important; color: yellow !important; } * { letter-spacing: 2px; }');
    } else if (req.method === 'POST' && req.url === '/token') {
      // The business's backend: it knows its customer, so it names the session itself.
      void fetch(`${api.url}/widget/tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${business.api_key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ origin, session_id: 'customer-4711', ttl_seconds: 300 }),
      }).then(async (minted) => {
        res.writeHead(minted.status, { 'content-type': 'application/json' });
        res.end(await minted.text());
      });
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Dom = any; // the page's objects (this project compiles without DOM types)
type WidgetState = { messages: number; bubbles: number; answers: string[]; busy: boolean; notice: string | null };

/**
 * The widget as the customer sees it, read in the page. A function, not a string: the shop's
 * CSP (no 'unsafe-eval') forbids the eval a string needs; playwright sends this function's
 * source, so it closes over nothing. Also starts recording each text the last answer shows.
 */
function readWidget(): WidgetState | null {
  const w = globalThis as Dom;
  const root = w.document.querySelector('mia-chat-widget')?.shadowRoot;
  if (!root) return null;
  const bubbles = [...root.querySelectorAll('.msg.assistant')] as Dom[];
  if (!w.__recording) {
    w.__recording = true;
    w.__shown = [];
    new w.MutationObserver(() => {
      const all = root.querySelectorAll('.msg.assistant');
      const last = all[all.length - 1];
      if (last && !last.classList.contains('pending')) w.__shown.push([all.length, last.textContent]);
    }).observe(root.querySelector('.log'), { childList: true, subtree: true, characterData: true, attributes: true });
  }
  return {
    messages: root.querySelectorAll('.msg').length,
    bubbles: bubbles.length,
    answers: bubbles.filter((b) => !b.classList.contains('pending')).map((b) => b.textContent as string),
    busy: root.querySelector('.send').disabled as boolean,
    notice: (root.querySelector('.notice')?.textContent ?? null) as string | null,
  };
}

/** Waits (polling the page) until the widget's state satisfies `holds`. */
function widgetUntil(page: Page, holds: (state: WidgetState) => boolean, timeoutMs = 30_000): Promise<WidgetState> {
  return eventually(async () => {
    const state = await page.evaluate(readWidget);
    return state && holds(state) ? state : null;
  }, timeoutMs, 'the widget to reach the expected state');
}

async function openWidget(page: Page, url: string): Promise<void> {
  await page.goto(url);
  // playwright's CSS selectors pierce open shadow roots.
  await page.click('mia-chat-widget .launcher');
  await page.waitForSelector('mia-chat-widget .panel', { state: 'visible' });
}

/** Types a message, waits for the whole answer, and returns every text the answer showed on its way. */
async function ask(page: Page, message: string): Promise<{ shown: string[]; final: string }> {
  const before = await widgetUntil(page, (s) => !s.busy);
  await page.fill('mia-chat-widget textarea', message);
  await page.press('mia-chat-widget textarea', 'Enter');
  const done = await widgetUntil(page, (s) => s.messages === before.messages + 2 && !s.busy);
  const recorded = (await page.evaluate(() => (globalThis as Dom).__shown)) as [number, string][];
  // Only what the new answer's bubble showed.
  const shown = recorded.filter(([bubbles]) => bubbles === before.bubbles + 1).map(([, text]) => text);
  return { shown, final: done.answers.at(-1)! };
}

describe('chat widget', function () {
  this.timeout(120_000);
  let database: TestDatabase;
  let api: TestApi;
  let business: TestBusiness;
  let shop: ShopPage;
  let elsewhere: ShopPage;
  let browser: Browser | undefined;
  let miner: MinerProcess | undefined;
  const state = tempDir();

  before(async function () {
    database = await createTestDatabase();
    // Short answers (40 tokens at 20 tok/s) that arrive in many deltas.
    api = await startTestApi({ database, env: { MIA_MAX_TOKENS_DEFAULT: '40', MIA_MINER_OFFLINE_AFTER_SECONDS: '600' } });
    business = await createBusiness(api, { system_prompt: 'You answer for Velo, a bike shop. Open 9-18.' });
    shop = await startShop(api, business);
    elsewhere = await startShop(api, business);
    const patched = await api.request('PATCH', `/businesses/${business.id}`, { token: api.adminToken, body: { widget_origins: [shop.origin] } });
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual(patched.body.widget_origins, [shop.origin]);
  });

  after(async () => {
    await browser?.close();
    await miner?.kill();
    await shop?.close();
    await elsewhere?.close();
    await api?.close();
    await database?.drop();
    state.remove();
  });

  async function startMiner(): Promise<void> {
    if (miner) return;
    miner = fakeMinerRun({ backendUrl: api.url, name: 'widget-rig', stateDir: state.path, tokensPerSecond: 20, ctxPerSlot: 4096 });
    await miner.waitFor(/status idle/);
  }

  async function newPage(locale: string): Promise<Page> {
    if (!chromiumAvailable()) throw new Error('no Chromium: the widget tests need /usr/bin/chromium (CHROMIUM_PATH)');
    browser ??= await launchChromium();
    const context = await browser.newContext({ locale, viewport: { width: 820, height: 620 } });
    return context.newPage();
  }

  async function sqlRows<T>(text: string, values: unknown[]): Promise<T[]> {
    return withClient(database.url, async (client) => (await client.query(text, values)).rows as T[]);
  }

  it('streams a customer\'s message to a live answer on an allowed origin, in the browser\'s language, stored under its session, shown in the operator console', async function () {
    requireChromium(this);
    await startMiner();
    const page = await newPage('de-DE');
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await openWidget(page, `${shop.origin}/`);

    // German UI strings, and the shop's CSS (red !important buttons, serif) kept out.
    assert.equal(await page.textContent('mia-chat-widget header .title'), 'Schreiben Sie uns');
    assert.equal(await page.textContent('mia-chat-widget .send'), 'Senden');
    const style = await page.evaluate(() => {
      const w = globalThis as Dom;
      const root = w.document.querySelector('mia-chat-widget').shadowRoot;
      const send = w.getComputedStyle(root.querySelector('.send'));
      const title = w.getComputedStyle(root.querySelector('.title'));
      return [send.backgroundColor, title.letterSpacing, /Georgia/.test(title.fontFamily)];
    });
    assert.deepEqual(style, ['rgb(47, 91, 234)', 'normal', false], 'the widget is styled by its own sheet under the page\'s CSP, not by the page');

    const { shown, final } = await ask(page, 'Wann kommt meine Bestellung?');
    // The answer grew on screen, one prefix after another, before it was complete.
    const distinct = [...new Set(shown)];
    assert.ok(distinct.length >= 4, `the answer appeared in ${distinct.length} steps: ${JSON.stringify(distinct)}`);
    for (const [i, text] of distinct.entries()) {
      assert.ok(final.startsWith(text), `step ${i} ${JSON.stringify(text)} is not a prefix of the answer ${JSON.stringify(final)}`);
    }
    assert.ok(final.length > 20);

    // Stored under the widget's session: the job (read with the business's key) and chat_logs.
    const sessionId = (await page.evaluate(`Object.entries(localStorage).find(([k]) => k.startsWith('mia-widget:'))[1]`)) as string;
    const session = JSON.parse(sessionId).session_id as string;
    assert.match(session, /^ws_[A-Za-z0-9_-]{32}$/);
    const logs = await sqlRows<{ role: string; message: string; job_id: string }>(
      'SELECT role, message, job_id FROM mia.chat_logs WHERE business_id = $1 AND session_id = $2 ORDER BY id', [business.id, session]);
    assert.deepEqual(logs.map((l) => [l.role, l.message]), [['user', 'Wann kommt meine Bestellung?'], ['assistant', final]]);
    const result = await api.request('GET', `/job/${logs[0]!.job_id}/result`, { token: business.api_key });
    assert.equal(result.status, 200);
    assert.equal(result.body.status, 'completed');
    assert.equal(result.body.session_id, session);
    assert.equal(result.body.response, final);
    // The model was told the browser's language (it answers in the customer's own).
    const [job] = await sqlRows<{ messages: unknown }>('SELECT messages FROM mia.jobs WHERE id = $1', [logs[0]!.job_id]);
    assert.match(JSON.stringify(job!.messages), /browser is set to the language de-DE/);
    // The key never reached the page.
    assert.ok(!(await page.content()).includes(business.api_key));
    assert.deepEqual(pageErrors, []);

    // A new page keeps the session: the conversation is redrawn, and the next message
    // continues it even though the token has expired meanwhile (the widget gets a new one).
    await openWidget(page, `${shop.origin}/`);
    await widgetUntil(page, (s) => s.messages === 2);
    assert.equal(await page.textContent('mia-chat-widget .msg.assistant'), final);
    await sqlRows('UPDATE mia.widget_tokens SET expires_at = now() - interval \'1 second\' WHERE business_id = $1', [business.id]);
    api.server.ctx.principals.forgetBusiness(business.id);
    const tokensBefore = await sqlRows<{ n: number }>('SELECT count(*)::int AS n FROM mia.widget_tokens WHERE business_id = $1', [business.id]);

    if (process.env.MIA_SCREENSHOTS === '1') {
      await page.fill('mia-chat-widget textarea', 'Und kann ich sie im Laden abholen?');
      await page.press('mia-chat-widget textarea', 'Enter');
      // Mid-answer: a few words shown, the rest still being generated.
      await widgetUntil(page, (s) => s.busy && s.answers.length === 2 && s.answers[1]!.split(' ').length > 8);
      await page.screenshot({ path: path.join(repoRoot, 'docs/screenshots/widget.png') });
      await widgetUntil(page, (s) => s.messages === 4 && !s.busy);
    } else {
      const second = await ask(page, 'Und kann ich sie im Laden abholen?');
      assert.ok(second.final.length > 20);
    }
    const tokensAfter = await sqlRows<{ n: number }>('SELECT count(*)::int AS n FROM mia.widget_tokens WHERE business_id = $1', [business.id]);
    assert.equal(tokensAfter[0]!.n, tokensBefore[0]!.n + 1, 'the widget fetched one new token after token_expired');
    const turns = await sqlRows<{ role: string }>('SELECT role FROM mia.chat_logs WHERE business_id = $1 AND session_id = $2 ORDER BY id', [business.id, session]);
    assert.deepEqual(turns.map((t) => t.role), ['user', 'assistant', 'user', 'assistant']);
    const [second] = await sqlRows<{ messages: { role: string; content: string }[] }>(
      'SELECT messages FROM mia.jobs WHERE business_id = $1 AND session_id = $2 ORDER BY created_at DESC LIMIT 1', [business.id, session]);
    assert.ok(second!.messages.some((m) => m.role === 'assistant' && m.content === final), 'the second question carries the first answer as history');
    await page.context().close();

    // The same conversation in the operator console's viewer (issue 20: widget → console).
    const operator = await newPage('en-GB');
    await operator.goto(`${api.url}/console`);
    await operator.fill('#token', api.adminToken);
    await operator.click('#sign-in-form button[type=submit]');
    await operator.locator('#console').waitFor({ state: 'visible' });
    await operator.goto(`${api.url}/console#session=${business.id}/${session}`);
    const viewed = operator.locator('#conversation-turns li');
    await eventually(async () => (await viewed.count()) === 2, 30_000, 'the two widget turns in the console viewer');
    assert.equal(await viewed.nth(0).locator('.message').textContent(), 'Wann kommt meine Bestellung?');
    assert.equal(await viewed.nth(0).locator('.answer').textContent(), final);
    assert.equal(await viewed.nth(1).locator('.message').textContent(), 'Und kann ich sie im Laden abholen?');
    await operator.context().close();
  });

  it('takes its token from the business\'s backend with data-token-url, in the session the business names', async function () {
    requireChromium(this);
    await startMiner();
    const page = await newPage('fr-FR');
    await openWidget(page, `${shop.origin}/own-backend`);
    assert.equal(await page.textContent('mia-chat-widget .send'), 'Envoyer');
    const { final } = await ask(page, 'Bonjour, êtes-vous ouverts dimanche ?');
    const logs = await sqlRows<{ role: string; message: string }>(
      'SELECT role, message FROM mia.chat_logs WHERE business_id = $1 AND session_id = $2 ORDER BY id', [business.id, 'customer-4711']);
    assert.deepEqual(logs.map((l) => [l.role, l.message]), [['user', 'Bonjour, êtes-vous ouverts dimanche ?'], ['assistant', final]]);
    await page.context().close();
  });

  it('does not run on a page of an origin the business did not allow', async function () {
    requireChromium(this);
    const page = await newPage('en-US');
    await openWidget(page, `${elsewhere.origin}/`);
    const before = await sqlRows<{ n: number }>('SELECT count(*)::int AS n FROM mia.jobs WHERE business_id = $1', [business.id]);
    await page.fill('mia-chat-widget textarea', 'Hello?');
    await page.press('mia-chat-widget textarea', 'Enter');
    const refused = await widgetUntil(page, (s) => s.notice !== null);
    assert.equal(refused.notice, 'The chat is not available right now.');
    const after = await sqlRows<{ n: number }>('SELECT count(*)::int AS n FROM mia.jobs WHERE business_id = $1', [business.id]);
    assert.equal(after[0]!.n, before[0]!.n);
    await page.context().close();
  });

  describe('tokens', () => {
    async function mint(body: Record<string, unknown>) {
      const res = await api.request('POST', '/widget/tokens', { token: business.api_key, body });
      assert.equal(res.status, 201, res.text);
      return res.body as { token: string; session_id: string; origin: string; expires_at: string };
    }

    function widgetChat(token: string, origin: string | undefined) {
      return api.request('POST', '/widget/chat', { token, body: { message: 'Hi' }, headers: origin ? { origin } : {} });
    }

    it('refuses a token from another origin, or with none, naming the origin', async () => {
      const { token } = await mint({ origin: shop.origin });
      const other = await widgetChat(token, elsewhere.origin);
      assert.equal(other.status, 403);
      assert.equal(other.body.error.code, 'forbidden');
      assert.ok(other.body.error.message.includes(shop.origin) && other.body.error.message.includes(elsewhere.origin), other.text);
      const none = await widgetChat(token, undefined);
      assert.equal(none.status, 403);
      assert.match(none.body.error.message, /no Origin header/);
    });

    it('refuses an expired token with token_expired, and one whose origin was removed at once', async () => {
      const { token } = await mint({ origin: shop.origin, ttl_seconds: 60 });
      const transcript = await api.request('GET', '/widget/transcript', { token, headers: { origin: shop.origin } });
      assert.equal(transcript.status, 200, transcript.text);
      await sqlRows('UPDATE mia.widget_tokens SET expires_at = now() - interval \'1 second\' WHERE token_hash = encode(sha256($1::bytea), \'hex\')', [token]);
      // A fresh resolver lookup: the test API caches verified tokens for MIA_AUTH_CACHE_SECONDS.
      api.server.ctx.principals.forgetBusiness(business.id);
      const expired = await widgetChat(token, shop.origin);
      assert.equal(expired.status, 401);
      assert.equal(expired.body.error.code, 'token_expired');

      const live = await mint({ origin: shop.origin });
      await api.request('PATCH', `/businesses/${business.id}`, { token: api.adminToken, body: { widget_origins: [] } });
      try {
        const gone = await widgetChat(live.token, shop.origin);
        assert.equal(gone.status, 401);
        assert.equal(gone.body.error.code, 'unauthorized');
      } finally {
        await api.request('PATCH', `/businesses/${business.id}`, { token: api.adminToken, body: { widget_origins: [shop.origin] } });
      }
    });

    it('only mints for the business\'s origins, and only ever reaches its own session\'s jobs', async () => {
      const refused = await api.request('POST', '/widget/tokens', { token: business.api_key, body: { origin: elsewhere.origin } });
      assert.equal(refused.status, 403);
      assert.ok(refused.body.error.message.includes(elsewhere.origin));
      const notOrigin = await api.request('POST', '/widget/tokens', { token: business.api_key, body: { origin: `${shop.origin}/shop` } });
      assert.equal(notOrigin.status, 400);
      assert.match(notOrigin.body.error.message, /origin only/);

      const a = await mint({ origin: shop.origin, session_id: 'session-a' });
      const b = await mint({ origin: shop.origin, session_id: 'session-b' });
      const job = await api.request('POST', '/chat', { token: business.api_key, body: { message: 'Hi', session_id: 'session-a', wait: 0 } });
      const own = await fetch(`${api.url}/widget/jobs/${job.body.job_id}/stream`, { headers: { authorization: `Bearer ${a.token}`, origin: shop.origin } });
      assert.equal(own.status, 200);
      await own.body?.cancel();
      const foreign = await api.request('GET', `/widget/jobs/${job.body.job_id}/stream`, { token: b.token, headers: { origin: shop.origin } });
      assert.equal(foreign.status, 404);
      // A widget token is no business key.
      const chat = await api.request('POST', '/chat', { token: a.token, body: { message: 'Hi', wait: 0 }, headers: { origin: shop.origin } });
      assert.equal(chat.status, 401);
      const jobRead = await api.request('GET', `/job/${job.body.job_id}/result`, { token: a.token, headers: { origin: shop.origin } });
      assert.equal(jobRead.status, 401);
      await api.request('DELETE', `/job/${job.body.job_id}`, { token: business.api_key });
    });

    it('opens public sessions only for allowed origins, and continues only sessions it opened', async () => {
      const opened = await api.request('POST', '/widget/session', { body: { business_id: business.id }, headers: { origin: shop.origin } });
      assert.equal(opened.status, 201, opened.text);
      assert.match(opened.body.session_id, /^ws_/);
      const again = await api.request('POST', '/widget/session', { body: { business_id: business.id, session_id: opened.body.session_id }, headers: { origin: shop.origin } });
      assert.equal(again.status, 201);
      assert.equal(again.body.session_id, opened.body.session_id);
      const named = await api.request('POST', '/widget/session', { body: { business_id: business.id, session_id: 'customer-4711' }, headers: { origin: shop.origin } });
      assert.equal(named.status, 400);
      const foreign = await api.request('POST', '/widget/session', { body: { business_id: business.id }, headers: { origin: elsewhere.origin } });
      assert.equal(foreign.status, 403);
      assert.ok(foreign.body.error.message.includes(elsewhere.origin));
      const noOrigin = await api.request('POST', '/widget/session', { body: { business_id: business.id } });
      assert.equal(noOrigin.status, 403);
    });

    it('answers CORS preflights for allowed origins only', async () => {
      const preflight = (origin: string) => fetch(`${api.url}/widget/chat`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      });
      const allowed = await preflight(shop.origin);
      assert.equal(allowed.status, 204);
      assert.equal(allowed.headers.get('access-control-allow-origin'), shop.origin);
      assert.match(allowed.headers.get('access-control-allow-headers') ?? '', /Authorization/);
      const refused = await preflight(elsewhere.origin);
      assert.equal(refused.status, 403);
      assert.equal(refused.headers.get('access-control-allow-origin'), null);
    });

    it('validates and normalises widget_origins', async () => {
      for (const [origin, problem] of [['https://shop.example/path', /origin only/], ['ftp://shop.example', /http or https/], ['shop.example', /not a URL/]] as const) {
        const res = await api.request('PATCH', `/businesses/${business.id}`, { token: api.adminToken, body: { widget_origins: [shop.origin, origin] } });
        assert.equal(res.status, 400, origin);
        assert.match(res.body.error.message, /widget_origins\[1\]/);
        assert.match(res.body.error.message, problem);
      }
      const res = await api.request('PATCH', `/businesses/${business.id}`, { token: api.adminToken, body: { widget_origins: [shop.origin, 'https://Shop.Example:443'] } });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.widget_origins, [shop.origin, 'https://shop.example']);
    });
  });
});

describe('chat widget with a hand-driven miner', function () {
  this.timeout(60_000);
  let api: TestApi;
  let shop: ShopPage;
  let browser: Browser | undefined;
  before(async () => {
    api = await startTestApi();
  });
  after(async () => {
    await browser?.close();
    await shop?.close();
    await api?.close();
  });

  it('wipes the text a refused attempt streamed and shows the answer that replaced it', async function () {
    requireChromium(this);
    const business = await createBusiness(api);
    shop = await startShop(api, business);
    await api.request('PATCH', `/businesses/${business.id}`, { token: api.adminToken, body: { widget_origins: [shop.origin] } });
    // A hand-driven miner: it streams one text, then posts a result that contradicts it.
    const liar = await registerMiner(api);
    browser = await launchChromium();
    const page = await (await browser.newContext({ locale: 'en-GB' })).newPage();
    await openWidget(page, `${shop.origin}/`);
    await page.fill('mia-chat-widget textarea', 'Where is my order?');
    await page.press('mia-chat-widget textarea', 'Enter');

    const claimed = await claimJob(api, liar, 10);
    assert.equal(claimed.status, 200, claimed.text);
    const job = claimed.body as { job_id: string; lease_token: string };
    const streamed = 'Your order was lost and will never arrive';
    const posted = await api.request('POST', `/job/${job.job_id}/deltas`, { token: liar.auth_key, body: { lease_token: job.lease_token, seq: 0, text_start: 0, content: streamed } });
    assert.equal(posted.status, 200, posted.text);
    // The customer sees it (all but a trailing word the contact guardrail may hold back)...
    await widgetUntil(page, (s) => s.answers.some((a) => a.startsWith('Your order was lost')));
    const refused = await postResult(api, liar, job, { output: 'Your order ships tomorrow.', tokens_generated: 6 });
    assert.equal(refused.status, 422, refused.text);
    // ...until the result contradicts it: the widget wipes it at once.
    await widgetUntil(page, (s) => s.busy && !s.answers.some((a) => a.includes('lost')));

    const honestMiner = await registerMiner(api);
    const retry = await claimJob(api, honestMiner, 10);
    assert.equal(retry.status, 200, retry.text);
    assert.equal(retry.body.job_id, job.job_id);
    const answered = await postResult(api, honestMiner, retry.body, { output: 'Your order ships tomorrow.', tokens_generated: 6 });
    assert.equal(answered.status, 200, answered.text);
    const done = await widgetUntil(page, (s) => !s.busy && s.messages === 2);
    assert.deepEqual(done.answers, ['Your order ships tomorrow.']);
    assert.equal(done.notice, null);
  });

  it('follows an answer still being written onto the next page', async function () {
    requireChromium(this);
    const business = await createBusiness(api);
    const site = await startShop(api, business);
    try {
      await api.request('PATCH', `/businesses/${business.id}`, { token: api.adminToken, body: { widget_origins: [site.origin] } });
      const miner = await registerMiner(api);
      const page = await (await browser!.newContext({ locale: 'en-GB' })).newPage();
      await openWidget(page, `${site.origin}/`);
      await page.fill('mia-chat-widget textarea', 'Do you repair e-bikes?');
      await page.press('mia-chat-widget textarea', 'Enter');
      const claimed = await claimJob(api, miner, 10);
      assert.equal(claimed.status, 200, claimed.text);
      const job = claimed.body as { job_id: string; lease_token: string };
      await api.request('POST', `/job/${job.job_id}/deltas`, { token: miner.auth_key, body: { lease_token: job.lease_token, seq: 0, text_start: 0, content: 'Yes, we repair ' } });
      await widgetUntil(page, (s) => s.answers.some((a) => a.startsWith('Yes, we repair')));

      // The customer goes to another page mid-answer: the job goes on, and the new page
      // redraws the question and follows the answer from where the miner is.
      await openWidget(page, `${site.origin}/`);
      await widgetUntil(page, (s) => s.messages === 2 && s.answers.some((a) => a.startsWith('Yes, we repair')));
      const answered = await postResult(api, miner, job, { output: 'Yes, we repair e-bikes of every brand.', tokens_generated: 9 });
      assert.equal(answered.status, 200, answered.text);
      const done = await widgetUntil(page, (s) => s.answers[0] === 'Yes, we repair e-bikes of every brand.');
      assert.equal(done.messages, 2);
    } finally {
      await site.close();
    }
  });

  it('reattaches where it was when a stream ends before its answer (MIA_STREAM_MAX_SECONDS)', async function () {
    requireChromium(this);
    // Streams of this API close after a second; the answer comes after several of them.
    const shortStreams = await startTestApi({ env: { MIA_STREAM_MAX_SECONDS: '1' } });
    const business = await createBusiness(shortStreams);
    const site = await startShop(shortStreams, business);
    try {
      await shortStreams.request('PATCH', `/businesses/${business.id}`, { token: shortStreams.adminToken, body: { widget_origins: [site.origin] } });
      const miner = await registerMiner(shortStreams);
      const page = await (await browser!.newContext({ locale: 'en-GB' })).newPage();
      const reattached: string[] = [];
      page.on('request', (request) => {
        if (/\/widget\/jobs\/[^/]+\/stream$/.test(request.url()) && request.method() === 'GET') reattached.push(request.headers()['last-event-id'] ?? '');
      });
      await openWidget(page, `${site.origin}/`);
      await page.fill('mia-chat-widget textarea', 'Is the shop open on Sunday?');
      await page.press('mia-chat-widget textarea', 'Enter');
      const claimed = await claimJob(shortStreams, miner, 10);
      assert.equal(claimed.status, 200, claimed.text);
      const job = claimed.body as { job_id: string; lease_token: string };
      await shortStreams.request('POST', `/job/${job.job_id}/deltas`, { token: miner.auth_key, body: { lease_token: job.lease_token, seq: 0, text_start: 0, content: 'No, on Sunday ' } });
      await widgetUntil(page, (s) => s.answers.some((a) => a.startsWith('No, on Sunday')));
      // Two more stream ends, each followed by a reattach from the last delta seen.
      await eventually(() => reattached.filter((id) => id === '1:14').length >= 2, 15_000, 'two reattaches from 1:14');
      await shortStreams.request('POST', `/job/${job.job_id}/deltas`, { token: miner.auth_key, body: { lease_token: job.lease_token, seq: 1, text_start: 14, content: 'we are closed' } });
      const answered = await postResult(shortStreams, miner, job, { output: 'No, on Sunday we are closed.', tokens_generated: 7 });
      assert.equal(answered.status, 200, answered.text);
      const done = await widgetUntil(page, (s) => !s.busy && s.messages === 2);
      assert.deepEqual(done.answers, ['No, on Sunday we are closed.']);
      assert.equal(done.notice, null);
      await page.context().close();
    } finally {
      await site.close();
      await shortStreams.close();
    }
  });
});

describe('chat widget: public sessions are rate-limited per address', () => {
  let api: TestApi;
  before(async () => {
    api = await startTestApi({ env: { MIA_WIDGET_RATE_PER_MINUTE: '2' } });
  });
  after(async () => {
    await api?.close();
  });

  it('answers 429 with Retry-After past MIA_WIDGET_RATE_PER_MINUTE', async () => {
    const business = await createBusiness(api);
    await api.request('PATCH', `/businesses/${business.id}`, { token: api.adminToken, body: { widget_origins: ['https://shop.example'] } });
    const open = () => api.request('POST', '/widget/session', { body: { business_id: business.id }, headers: { origin: 'https://shop.example' } });
    assert.equal((await open()).status, 201);
    assert.equal((await open()).status, 201);
    const limited = await open();
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  });
});
