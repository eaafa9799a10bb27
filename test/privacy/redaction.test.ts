// Customers' personal data is redacted before it reaches a miner, and restored in
// what the customer is shown (issue 21, item 1; README "Customers' personal data").
// Hand-driven miners over HTTP misbehave on purpose: one records everything it
// receives and echoes the placeholders back, one splits a placeholder across
// delta batches, one invents placeholders it was never given. Invariants are
// read back in SQL.
import assert from 'node:assert/strict';
import { useTestApi, type TestApi } from '../support/apiServer.ts';
import { withClient } from '../support/database.ts';
import { claimJob, createBusiness, postResult, registerMiner, submitChat, type TestBusiness } from '../support/factories.ts';
import { eventually } from '../miner/helpers.ts';
import { startWebhookReceiver } from '../maintenance/support.ts';
import { collectSse } from '../support/sse.ts';

type Claimed = { job_id: string; lease_token: string; session_id: string; messages: { role: string; content: string }[]; prompt: string; context: string | null };

const EMAIL = 'Jane.Doe@example.com';
const PHONE = '+1 415 555 2671';
const CARD = '4111 1111 1111 1111';
const IBAN = 'DE89 3704 0044 0532 0130 00';
const OTHER_EMAIL = 'john@example.org';

/** Every spelling of the customer's data a leak could take: as written, compact, lower-cased. */
const secrets = [EMAIL, EMAIL.toLowerCase(), PHONE, '4155552671', CARD, '4111111111111111', IBAN, 'DE89370400440532013000', OTHER_EMAIL];

function assertNoSecrets(seen: string, what: string): void {
  for (const secret of secrets) assert.ok(!seen.toLowerCase().includes(secret.toLowerCase()), `${what} shows ${secret}`);
}

describe('personal data is redacted before dispatch and restored for the customer', function () {
  this.timeout(60_000);
  const testApi = useTestApi({ env: { MIA_SUSPICION_LIMIT: '1000', MIA_WEBHOOK_ALLOW_PRIVATE: 'true' } });
  const api = (): TestApi => testApi;

  async function sql<T>(text: string, values: unknown[] = []): Promise<T[]> {
    return withClient(api().databaseUrl, async (c) => (await c.query(text, values)).rows as T[]);
  }

  /** A miner that keeps every byte it receives. */
  async function recordingMiner() {
    const miner = await registerMiner(api());
    const received: string[] = [];
    return {
      miner,
      received,
      claim: async (): Promise<Claimed> => {
        const res = await claimJob(api(), miner, 5);
        assert.equal(res.status, 200, res.text);
        received.push(res.text);
        return res.body as Claimed;
      },
      answer: async (job: Claimed, output: string, tokens = 20) => {
        const res = await postResult(api(), miner, job, { output, tokens_generated: tokens });
        assert.equal(res.status, 200, res.text);
      },
      deltas: async (job: Claimed, body: Record<string, unknown>) => {
        const res = await api().request('POST', `/job/${job.job_id}/deltas`, { token: miner.auth_key, body: { lease_token: job.lease_token, ...body } });
        assert.equal(res.status, 200, res.text);
      },
    };
  }

  async function business(overrides: Record<string, unknown> = {}): Promise<TestBusiness> {
    return createBusiness(api(), { system_prompt: 'You answer for Velo, a bike shop. Our help desk: help@velo.example.', ...overrides });
  }

  async function patch(b: TestBusiness, body: Record<string, unknown>) {
    return api().request('PATCH', `/businesses/${b.id}`, { token: api().adminToken, body });
  }

  function post(b: TestBusiness, path: string, body: Record<string, unknown>) {
    return fetch(`${api().url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${b.api_key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  it('a recording miner sees no e-mail, phone, card or IBAN across a session; the customer sees their own data where it echoed placeholders', async () => {
    const b = await business();
    const hostile = await recordingMiner();

    // Turn 1: all four kinds, in the message and in the context.
    const first = await submitChat(api(), b, {
      session_id: 'cust-1',
      message: `I'm ${EMAIL}, call me on ${PHONE}. Refund to card ${CARD} or IBAN ${IBAN}.`,
      context: `E-mail on file: ${EMAIL}`,
    });
    assert.equal(first.status, 202, first.text);
    const job1 = await hostile.claim();
    assert.equal(job1.prompt, "I'm [EMAIL_1], call me on [PHONE_1]. Refund to card [CARD_1] or IBAN [IBAN_1].");
    assert.equal(job1.context, 'E-mail on file: [EMAIL_1]');
    assert.equal(job1.messages.at(-1)!.content, job1.prompt);
    // The business's own address is not the customer's data: the model needs it.
    assert.ok(job1.messages[0]!.content.includes('help@velo.example'));
    // The model is told what the placeholders are.
    assert.match(job1.messages[0]!.content, /placeholders \(\[CARD_1\], \[EMAIL_1\], \[IBAN_1\], \[PHONE_1\]\): where you mean/);
    // The contact guardrail passes the answer: the placeholders stand for the customer's own data.
    const answer1 = 'Refund of [CARD_1] / [IBAN_1] confirmed; we will mail [EMAIL_1] and call [PHONE_1].';
    await hostile.answer(job1, answer1);

    const result1 = await api().request('GET', `/job/${job1.job_id}/result`, { token: b.api_key });
    assert.equal(result1.status, 200, result1.text);
    assert.equal(result1.body.response, `Refund of ${CARD} / ${IBAN} confirmed; we will mail ${EMAIL} and call ${PHONE}.`);
    assert.deepEqual(result1.body.redacted, { email: 2, phone: 1, card: 1, iban: 1 });

    // Turn 2, waiting on POST /chat: the history (the customer's turn and the restored
    // answer) is redacted again with the same placeholders; a new address gets the next one.
    const waiting = submitChat(api(), b, { session_id: 'cust-1', message: `Also use ${OTHER_EMAIL}, not ${EMAIL.toUpperCase()}.`, wait: 30 });
    const job2 = await hostile.claim();
    assert.equal(job2.prompt, 'Also use [EMAIL_2], not [EMAIL_1].');
    assert.deepEqual(job2.messages.slice(1, -1).map((m) => m.content), [job1.prompt, answer1]);
    await hostile.answer(job2, 'Noted: [EMAIL_2] from now on.');
    const second = await waiting;
    assert.equal(second.status, 200, second.text);
    assert.equal(second.body.response, `Noted: ${OTHER_EMAIL} from now on.`);

    assertNoSecrets(hostile.received.join('\n'), 'what the miner received');
    // What a claim reads from the job rows holds no value; the per-job record holds counts only.
    const rows = await sql<{ claimable: string; pii_redacted: Record<string, number> }>(
      `SELECT concat_ws(' ', messages::text, prompt, context, miner_output) AS claimable, pii_redacted
       FROM mia.jobs WHERE business_id = $1 ORDER BY created_at`, [b.id]);
    for (const row of rows) assertNoSecrets(row.claimable, 'a job row');
    // Turn 2 counts its history too: the customer's first turn, the restored answer, the new message.
    assert.deepEqual(rows.map((r) => r.pii_redacted), [{ email: 2, phone: 1, card: 1, iban: 1 }, { email: 4, phone: 2, card: 2, iban: 2 }]);
    // The chat log is the conversation as the customer wrote and saw it (webhooks read the same stored answer).
    const log = await sql<{ message: string }>(`SELECT message FROM mia.chat_logs WHERE business_id = $1 ORDER BY id`, [b.id]);
    assert.deepEqual(log.map((l) => l.message), [
      `I'm ${EMAIL}, call me on ${PHONE}. Refund to card ${CARD} or IBAN ${IBAN}.`, result1.body.response,
      `Also use ${OTHER_EMAIL}, not ${EMAIL.toUpperCase()}.`, second.body.response]);
    const placeholders = await sql<{ placeholder: string }>(`SELECT placeholder FROM mia.pii_placeholders WHERE business_id = $1 ORDER BY placeholder`, [b.id]);
    assert.deepEqual(placeholders.map((r) => r.placeholder), ['[CARD_1]', '[EMAIL_1]', '[EMAIL_2]', '[IBAN_1]', '[PHONE_1]']);
  });

  it("the completion webhook carries the customer's data where the miner wrote placeholders", async () => {
    const receiver = await startWebhookReceiver();
    try {
      const b = await business();
      const hostile = await recordingMiner();
      const chat = await submitChat(api(), b, { message: `Call me: ${PHONE}`, callback_url: receiver.url });
      assert.equal(chat.status, 202, chat.text);
      await hostile.answer(await hostile.claim(), 'We will call [PHONE_1] today.');
      const hook = await eventually(() => receiver.received.find((h) => h.body.includes(chat.body.job_id as string)), 10_000, 'the webhook');
      assert.equal((JSON.parse(hook.body) as { response: string }).response, `We will call ${PHONE} today.`);
      assertNoSecrets(hostile.received.join('\n'), 'what the miner received');
    } finally {
      await receiver.close();
    }
  });

  it('a miner is judged by the text it sent: its tokens against its placeholders, a repeated result as a duplicate', async () => {
    const b = await business();
    const miner = await recordingMiner();
    // The restored answer is shorter than what the miner wrote: 5 × "a@b.co " (35 bytes) against
    // 5 × "[EMAIL_1] " (50 bytes). 60 tokens are believable for the second only.
    await submitChat(api(), b, { message: 'Mail a@b.co please' });
    const job = await miner.claim();
    assert.equal(job.prompt, 'Mail [EMAIL_1] please');
    const output = '[EMAIL_1] '.repeat(5);
    await miner.answer(job, output, 60);
    const again = await postResult(api(), miner.miner, job, { output, tokens_generated: 60 });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.body.outcome, 'duplicate');
    const result = await api().request('GET', `/job/${job.job_id}/result`, { token: b.api_key });
    assert.equal(result.body.response, 'a@b.co '.repeat(5));
    assert.equal(result.body.tokens_generated, 60);
    assert.deepEqual(await sql(`SELECT reason FROM mia.miner_suspicions WHERE miner_id = $1`, [miner.miner.miner_id]), []);
  });

  it('a miner is judged by the tool calls it sent: its tokens against their placeholders, and not one token more', async () => {
    const b = await business();
    const miner = await recordingMiner();
    const tools = [{ type: 'function', function: { name: 'send_mail', parameters: { type: 'object' } } }];
    // Restored, each "[EMAIL_1]" (9 bytes) becomes "a@b.co" (6): the stored tool calls are 60 bytes
    // shorter than the ones the miner sent, and the token bound (their bytes + 16) is counted on the latter.
    const toolCalls = [{ id: 'call_1', type: 'function', function: { name: 'send_mail', arguments: JSON.stringify({ to: Array(20).fill('[EMAIL_1]') }) } }];
    const [row] = await sql<{ bytes: number }>(`SELECT octet_length($1::jsonb::text) AS bytes`, [JSON.stringify(toolCalls)]);
    const bound = row!.bytes + 16;
    for (const [tokens, believed] of [[bound, true], [bound + 1, false]] as const) {
      await submitChat(api(), b, { message: 'Mail a@b.co please', tools, max_tokens: 2000 });
      const job = await miner.claim();
      // Ten seconds of work, so only the size bound judges these tokens (not their rate).
      await sql(`UPDATE mia.jobs SET claimed_at = now() - interval '10 seconds' WHERE id = $1`, [job.job_id]);
      const res = await postResult(api(), miner.miner, job, { output: '', tool_calls: toolCalls, tokens_generated: tokens });
      assert.equal(res.status, 200, res.text);
      const result = await api().request('GET', `/job/${job.job_id}/result`, { token: b.api_key });
      assert.equal(result.body.tokens_generated, believed ? tokens : 0, `${tokens} tokens against a bound of ${bound}`);
      const suspicions = await sql(`SELECT reason FROM mia.miner_suspicions WHERE job_id = $1`, [job.job_id]);
      assert.deepEqual(suspicions, believed ? [] : [{ reason: 'tokens_implausible' }]);
    }
  });

  it('a placeholder split across two delta batches is never shown half on the SSE stream', async () => {
    // The contact guardrail off, so nothing but the placeholder hold-back delays text.
    const b = await business();
    assert.equal((await patch(b, { contact_guardrail: false })).status, 200);
    const miner = await recordingMiner();
    const submitted = await submitChat(api(), b, { message: `Please write to ${EMAIL}` });
    const jobId = submitted.body.job_id as string;
    const res = await fetch(`${api().url}/job/${jobId}/stream`, { headers: { authorization: `Bearer ${b.api_key}` } });
    const sse = collectSse(res);
    const job = await miner.claim();
    const pieces = () => sse.events.filter((e) => e.event === 'delta').map((e) => (JSON.parse(e.data) as { text: string }).text);

    await miner.deltas(job, { seq: 0, text_start: 0, content: 'Sure, I will write to [EMA' });
    await eventually(() => pieces().join('') === 'Sure, I will write to ', 10_000, 'the text before the placeholder');
    await miner.deltas(job, { seq: 1, text_start: 26, content: 'IL_1' });
    await miner.deltas(job, { seq: 2, text_start: 30, content: '] today. [See you]' });
    await eventually(() => pieces().join('').includes('today'), 10_000, 'the rest');
    await miner.answer(job, 'Sure, I will write to [EMAIL_1] today. [See you]', 12);
    await sse.ended;

    const expected = `Sure, I will write to ${EMAIL} today. [See you]`;
    for (const piece of pieces()) assert.ok(!/\[(E|EM|EMA|EMAI|EMAIL|EMAIL_|EMAIL_1)?$/.test(piece) && !piece.startsWith('IL_'), `a half placeholder was shown: ${piece}`);
    assert.equal(pieces().join(''), expected);
    assert.ok(!sse.events.some((e) => e.event === 'restart'));
    const done = sse.events.find((e) => e.event === 'done')!;
    assert.equal((JSON.parse(done.data) as { response: string }).response, expected);

    // A reader resuming from the first delta's id gets exactly the rest, restored.
    const firstId = sse.events.find((e) => e.event === 'delta')!.id!;
    const resumed = collectSse(await fetch(`${api().url}/job/${jobId}/stream`, { headers: { authorization: `Bearer ${b.api_key}`, 'last-event-id': firstId } }));
    await resumed.ended;
    const rest = resumed.events.filter((e) => e.event === 'delta').map((e) => (JSON.parse(e.data) as { text: string }).text).join('');
    assert.equal('Sure, I will write to ' + rest, expected);
  });

  it('OpenAI chat completions (streamed and not) and Responses (streamed and continued) show the customer their data; the miner saw placeholders', async () => {
    const b = await business();
    const hostile = await recordingMiner();

    // A streamed chat completion, the placeholder split across batches.
    const streamed = post(b, '/v1/chat/completions', { model: 'mia', stream: true, messages: [{ role: 'user', content: `Refund my card ${CARD}` }] });
    const job1 = await hostile.claim();
    await hostile.deltas(job1, { seq: 0, text_start: 0, content: 'Card [CA' });
    await hostile.deltas(job1, { seq: 1, text_start: 8, content: 'RD_1] refunded.' });
    await hostile.answer(job1, 'Card [CARD_1] refunded.', 8);
    const chunks = collectSse(await streamed);
    await chunks.ended;
    const contents = chunks.events.filter((e) => e.data !== '[DONE]')
      .map((e) => (JSON.parse(e.data) as { choices?: { delta?: { content?: string } }[] }).choices?.[0]?.delta?.content ?? '');
    assert.equal(contents.join(''), `Card ${CARD} refunded.`);
    assert.ok(contents.every((c) => !c.includes('[')), contents.join('|'));

    // A plain chat completion with a tool call whose arguments carry a placeholder.
    const plain = post(b, '/v1/chat/completions', { model: 'mia', messages: [{ role: 'user', content: `My IBAN is ${IBAN}` }] });
    const job2 = await hostile.claim();
    const res2 = await postResult(api(), hostile.miner, job2, {
      output: 'Checking [IBAN_1].', tokens_generated: 12,
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'check_iban', arguments: '{"iban":"[IBAN_1]"}' } }],
    });
    assert.equal(res2.status, 200, res2.text);
    const completion = (await (await plain).json()) as { choices: { message: { content: string; tool_calls: { function: { arguments: string } }[] } }[] };
    assert.equal(completion.choices[0]!.message.content, `Checking ${IBAN}.`);
    assert.equal(completion.choices[0]!.message.tool_calls[0]!.function.arguments, `{"iban":"${IBAN}"}`);

    // Responses, streamed, then continued in another session: the next turn is redacted afresh there.
    const responses = post(b, '/v1/responses', { model: 'mia', stream: true, input: `Mail me at ${EMAIL}`, user: 'resp-a' });
    const job3 = await hostile.claim();
    await hostile.deltas(job3, { seq: 0, text_start: 0, content: 'Mailing [EMAIL' });
    await hostile.deltas(job3, { seq: 1, text_start: 14, content: '_1] now.' });
    await hostile.answer(job3, 'Mailing [EMAIL_1] now.', 6);
    const events = collectSse(await responses);
    await events.ended;
    const textDeltas = events.events.filter((e) => e.event === 'response.output_text.delta').map((e) => (JSON.parse(e.data) as { delta: string }).delta);
    assert.equal(textDeltas.join(''), `Mailing ${EMAIL} now.`);
    const completed = JSON.parse(events.events.find((e) => e.event === 'response.completed')!.data) as { response: { id: string; output_text: string } };
    assert.equal(completed.response.output_text, `Mailing ${EMAIL} now.`);

    const next = post(b, '/v1/responses', { model: 'mia', previous_response_id: completed.response.id, input: `And ${OTHER_EMAIL}?`, user: 'resp-b' });
    const job4 = await hostile.claim();
    assert.deepEqual(job4.messages.slice(1).map((m) => m.content), [`Mail me at [EMAIL_1]`, 'Mailing [EMAIL_1] now.', 'And [EMAIL_2]?']);
    await hostile.answer(job4, 'Both: [EMAIL_1], [EMAIL_2].', 6);
    const continued = (await (await next).json()) as { output_text: string };
    assert.equal(continued.output_text, `Both: ${EMAIL}, ${OTHER_EMAIL}.`);

    assertNoSecrets(hostile.received.join('\n'), 'what the miner received');
  });

  it('a streamed tool call whose arguments split a placeholder across deltas reaches the OpenAI client restored whole', async () => {
    const b = await business();
    const hostile = await recordingMiner();
    const tools = [{ type: 'function', function: { name: 'refund', parameters: { type: 'object', properties: { card: { type: 'string' } } } } }];
    const streamed = post(b, '/v1/chat/completions', { model: 'mia', stream: true, tools, messages: [{ role: 'user', content: `Refund card ${CARD}` }] });
    const job = await hostile.claim();
    const pieces = ['{"card":"[CA', 'RD', '_1]', '"}'];
    await hostile.deltas(job, { seq: 0, text_start: 0, content: '', tool_start: 0, tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'refund', arguments: '' } }] });
    for (const [i, piece] of pieces.entries()) {
      await hostile.deltas(job, { seq: i + 1, text_start: 0, content: '', tool_start: i + 1, tool_calls: [{ index: 0, function: { arguments: piece } }] });
    }
    const res = await postResult(api(), hostile.miner, job, {
      output: '', tokens_generated: 12,
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'refund', arguments: pieces.join('') } }],
    });
    assert.equal(res.status, 200, res.text);
    const chunks = collectSse(await streamed);
    await chunks.ended;
    const args = chunks.events.filter((e) => e.data !== '[DONE]')
      .flatMap((e) => (JSON.parse(e.data) as { choices?: { delta?: { tool_calls?: { function?: { arguments?: string } }[] } }[] }).choices?.[0]?.delta?.tool_calls ?? [])
      .map((call) => call.function?.arguments ?? '');
    assert.equal(args.join(''), `{"card":"${CARD}"}`);
    assert.ok(args.every((a) => !a.includes('[')), args.join('|'));
    assertNoSecrets(hostile.received.join('\n'), 'what the miner received');
  });

  it('a miner inventing placeholders gets them shown as written: it cannot make the backend reveal data this job was not given', async () => {
    const b = await business();
    const hostile = await recordingMiner();
    // Two customers of a careless integrator share one session name.
    const a = post(b, '/v1/chat/completions', { model: 'mia', user: 'shared', messages: [{ role: 'user', content: `I am ${EMAIL}` }] });
    const jobA = await hostile.claim();
    await hostile.answer(jobA, 'Hello [EMAIL_1].');
    assert.equal(((await (await a).json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content, `Hello ${EMAIL}.`);

    const other = post(b, '/v1/chat/completions', { model: 'mia', user: 'shared', messages: [{ role: 'user', content: 'What is my e-mail? Maybe [EMAIL_1]?' }] });
    const jobB = await hostile.claim();
    await hostile.answer(jobB, 'It is [EMAIL_1], or [EMAIL_9], or [PHONE_1].');
    const shown = ((await (await other).json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content;
    assert.equal(shown, 'It is [EMAIL_1], or [EMAIL_9], or [PHONE_1].');
    // Not a suspicion: an honest model may imitate the pattern.
    assert.deepEqual(await sql(`SELECT reason FROM mia.miner_suspicions WHERE miner_id = $1`, [hostile.miner.miner_id]), []);
  });

  it('concurrent submits of one session give each new value one placeholder, never two values the same one', async () => {
    const b = await business();
    const sent = await Promise.all(Array.from({ length: 8 }, (_, i) =>
      submitChat(api(), b, { session_id: 'busy', message: `I am user${i}@example.com, team lead ${EMAIL}` })));
    for (const res of sent) assert.equal(res.status, 202, res.text);
    const rows = await sql<{ placeholder: string; value: string }>(
      `SELECT placeholder, value FROM mia.pii_placeholders WHERE business_id = $1 AND session_id = 'busy'`, [b.id]);
    assert.equal(rows.length, 9);
    assert.equal(new Set(rows.map((r) => r.placeholder)).size, 9);
    assert.equal(new Set(rows.map((r) => r.value.toLowerCase())).size, 9);
    // Each job's prompt names its own address's placeholder and the shared one.
    const prompts = await sql<{ prompt: string }>(`SELECT prompt FROM mia.jobs WHERE business_id = $1`, [b.id]);
    const shared = rows.find((r) => r.value === EMAIL)!.placeholder;
    for (const { prompt } of prompts) assert.match(prompt, new RegExp(`^I am \\[EMAIL_\\d\\], team lead ${shared.replace(/[[\]]/g, '\\$&')}$`));
  });

  it("a session named by the customer's e-mail address reaches the miner under an opaque id", async () => {
    const b = await business();
    const hostile = await recordingMiner();
    const asked = post(b, '/v1/chat/completions', { model: 'mia', user: EMAIL, messages: [{ role: 'user', content: 'Where is my parcel?' }] });
    const job = await hostile.claim();
    assert.match(job.session_id, /^anon-[A-Za-z0-9_-]{22}$/);
    await hostile.answer(job, 'On its way.');
    assert.equal((await asked).status, 200);
    assertNoSecrets(hostile.received.join('\n'), 'what the miner received');
    // The business keeps its own name for the session.
    const [row] = await sql<{ session_id: string }>(`SELECT session_id FROM mia.jobs WHERE id = $1`, [job.job_id]);
    assert.equal(row!.session_id, EMAIL);
  });

  it('per business: invalid numbers, switched off, and chosen categories reach the miner as written', async () => {
    const b = await business();
    const miner = await recordingMiner();

    // Numbers that fail their check are not personal data to redact.
    await submitChat(api(), b, { message: 'Card 4111 1111 1111 1112, IBAN DE89 3704 0044 0532 0130 01.' });
    const invalid = await miner.claim();
    assert.equal(invalid.prompt, 'Card 4111 1111 1111 1112, IBAN DE89 3704 0044 0532 0130 01.');
    await miner.answer(invalid, 'ok');
    assert.deepEqual((await api().request('GET', `/job/${invalid.job_id}/result`, { token: b.api_key })).body.redacted, {});

    const shown = await api().request('GET', `/businesses/${b.id}`, { token: b.api_key });
    assert.equal(shown.body.pii_redaction, true);
    assert.deepEqual(shown.body.pii_redaction_categories, ['email', 'phone', 'card', 'iban']);

    const bad = await patch(b, { pii_redaction_categories: ['email', 'names'] });
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.body.error.message, /pii_redaction_categories/);

    const narrowed = await patch(b, { pii_redaction_categories: ['iban', 'card', 'card'] });
    assert.equal(narrowed.status, 200, narrowed.text);
    assert.deepEqual(narrowed.body.pii_redaction_categories, ['card', 'iban']);
    await submitChat(api(), b, { message: `Card ${CARD}, mail ${EMAIL}` });
    const cardsOnly = await miner.claim();
    assert.equal(cardsOnly.prompt, `Card [CARD_1], mail ${EMAIL}`);
    await miner.answer(cardsOnly, 'ok');

    const off = await patch(b, { pii_redaction: false });
    assert.equal(off.status, 200, off.text);
    assert.equal(off.body.pii_redaction, false);
    await submitChat(api(), b, { message: `Card ${CARD}, mail ${EMAIL}` });
    const raw = await miner.claim();
    assert.equal(raw.prompt, `Card ${CARD}, mail ${EMAIL}`);
    await miner.answer(raw, 'ok');
    assert.equal((await api().request('GET', `/job/${raw.job_id}/result`, { token: b.api_key })).body.redacted, null);
  });
});
