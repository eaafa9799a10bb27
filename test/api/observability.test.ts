import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { spawnSync } from 'node:child_process';
import { useTestApi } from '../support/apiServer.ts';
import { createBusiness, registerMiner, submitChat, claimJob, postResult } from '../support/factories.ts';
import { captureLogs } from '../../api/log.ts';

const enrolmentToken = 'enrolment-token-not-for-logs-4f1c9a';

type Line = Record<string, unknown>;

/** Every JSON line the API process writes while the describe block runs, at debug level. */
function useCapturedLogs(): { lines: Line[]; raw: string[] } {
  const captured = { lines: [] as Line[], raw: [] as string[] };
  let restore: (() => void) | undefined;
  before(() => {
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const text of chunk.toString().split('\n').filter(Boolean)) {
          captured.raw.push(text);
          captured.lines.push(JSON.parse(text) as Line);
        }
        done();
      },
    });
    restore = captureLogs(stream, 'debug');
  });
  after(() => restore?.());
  return captured;
}

// One Prometheus text exposition sample line: name, optional labels, a number.
const sampleLine = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/i;

/** Strict check of the text format: every line a comment or a sample. */
function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const typed = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      if (meta[1] === 'TYPE') {
        assert.match(meta[3]!, /^(counter|gauge|histogram|summary|untyped)$/, line);
        assert.ok(!typed.has(meta[2]!), `TYPE twice for ${meta[2]}`);
        typed.add(meta[2]!);
      }
      continue;
    }
    assert.match(line, sampleLine, `not a Prometheus sample line: ${line}`);
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/**
 * Prometheus' own linter on the exposition: `promtool check metrics` (Debian's prometheus
 * package, installed by .ci/run) fails on bad names, missing HELP, counters without
 * _total and the like. Where promtool is missing, the strict parser above still ran.
 */
function promtoolCheck(text: string): void {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT') {
    console.warn('    promtool not installed: `promtool check metrics` skipped (.ci/run installs it)');
    return;
  }
  assert.equal(run.status, 0, `promtool check metrics: ${run.stdout}${run.stderr}`);
  assert.equal(`${run.stdout}${run.stderr}`.trim(), '', `promtool check metrics has remarks: ${run.stdout}${run.stderr}`);
}

describe('access log, secrets in logs and Prometheus metrics', () => {
  const logs = useCapturedLogs();
  const api = useTestApi({ env: { MIA_MINER_REGISTRATION: 'token', MIA_MINER_ENROLMENT_TOKEN: enrolmentToken } });

  it('writes one access line per request with its id, route template, status, duration and who called', async () => {
    const business = await createBusiness(api);
    const before = logs.lines.length;
    const res = await api.request('GET', '/job/00000000-0000-4000-8000-000000000000/result', {
      token: business.api_key,
      headers: { 'x-request-id': 'trace-abc-123' },
    });
    assert.equal(res.status, 404);
    const access = logs.lines.slice(before).filter((l) => l.msg === 'request');
    assert.equal(access.length, 1, JSON.stringify(access));
    const line = access[0]!;
    assert.equal(line.request_id, 'trace-abc-123');
    assert.equal(line.method, 'GET');
    assert.equal(line.route, '/job/{job_id}/result', 'the OpenAPI template, not the URL with the id');
    assert.equal(line.status, 404);
    assert.equal(typeof line.durationMs, 'number');
    assert.equal(line.principal, 'business');
    assert.equal(line.level, 'info');
    assert.match(String(line.time), /^\d{4}-\d\d-\d\dT/);

    const anonymous = await api.request('GET', '/no/such/path');
    const last = logs.lines.filter((l) => l.msg === 'request').at(-1)!;
    assert.equal(last.request_id, anonymous.headers.get('x-request-id'));
    assert.equal(last.route, 'unmatched');
    assert.equal(last.principal, 'none');
  });

  it('leaves no business key, miner key, admin token or enrolment token in any log line', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api, { enrolment_token: enrolmentToken });
    await api.request('POST', '/register_miner', { body: { name: 'wrong-token', gpu_name: 'x', slots: 1, enrolment_token: 'wrong-' + enrolmentToken } });
    const submitted = await submitChat(api, business);
    assert.equal(submitted.status, 202, submitted.text);
    const claimed = await claimJob(api, miner);
    assert.equal(claimed.status, 200, claimed.text);
    assert.equal((await postResult(api, miner, claimed.body)).status, 200);
    await api.request('GET', '/miners', { token: api.adminToken });
    await api.request('GET', '/miners', { token: 'mia_bk_not-a-real-key-but-shaped-like-one' });
    await api.request('GET', '/health', { token: api.adminToken });

    const secrets = [business.api_key, miner.auth_key, api.adminToken, enrolmentToken];
    assert.ok(logs.raw.length > 5, 'the run wrote log lines');
    for (const text of logs.raw) {
      for (const secret of secrets) assert.ok(!text.includes(secret), `a log line holds a secret: ${text}`);
      assert.doesNotMatch(text, /mia_bk_not-a-real-key/, 'nor a presented key that matched nothing');
      assert.doesNotMatch(text, /authorization/i);
    }
    const kinds = new Set(logs.lines.filter((l) => l.msg === 'request').map((l) => l.principal));
    for (const kind of ['operator', 'business', 'miner', 'none']) assert.ok(kinds.has(kind), `a ${kind} request was logged`);
  });

  it('serves Prometheus text with request, dispatch, first-token and job-duration histograms after a chat is served', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api, { enrolment_token: enrolmentToken });
    const submitted = await submitChat(api, business);
    assert.equal(submitted.status, 202, submitted.text);
    // The scripted miner: claim, stream one delta batch, post the result.
    const claimed = await claimJob(api, miner);
    assert.equal(claimed.status, 200, claimed.text);
    const delta = await api.request('POST', `/job/${claimed.body.job_id}/deltas`, {
      token: miner.auth_key,
      body: { lease_token: claimed.body.lease_token, seq: 0, text_start: 0, content: 'Here is ' },
    });
    assert.equal(delta.status, 200, delta.text);
    assert.equal((await postResult(api, miner, claimed.body)).status, 200);

    const res = await fetch(`${api.url}/metrics`, { headers: { accept: 'text/plain;version=0.0.4' } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const samples = parsePrometheus(text);
    for (const name of ['mia_job_dispatch_latency_seconds', 'mia_job_time_to_first_token_seconds', 'mia_job_duration_seconds']) {
      assert.match(text, new RegExp(`^# TYPE ${name} histogram$`, 'm'));
      assert.ok((samples.get(`${name}_count`) ?? 0) >= 1, `${name} observed the served chat`);
      assert.ok(samples.has(`${name}_bucket{le="+Inf"}`));
    }
    assert.match(text, /^# TYPE mia_http_request_duration_seconds histogram$/m);
    const chatRequests = [...samples.keys()].filter((k) => k.startsWith('mia_http_requests_total{method="POST",route="/chat",status="202"}'));
    assert.equal(chatRequests.length, 1, 'requests counted by route template and status');
    assert.ok(samples.has('mia_http_request_duration_seconds_count{method="GET",route="/job/next",status_class="2xx"}'));
    assert.equal(samples.get('mia_job_failures_total{reason="lease_expired"}'), 0, 'every failure reason is exposed from the start');
    // The existing series keep their names.
    for (const name of ['mia_queue_depth', 'mia_oldest_queued_age_seconds', 'mia_tokens_generated_total', 'mia_jobs_completed_total']) {
      assert.ok(samples.has(name), name);
    }
    assert.ok(samples.has('mia_jobs{status="completed"}'));
    assert.ok(samples.has('process_cpu_user_seconds_total'), "this process's own metrics");
    // No raw URL with an id as a label.
    assert.doesNotMatch(text, /route="\/job\/[0-9a-f]{8}-/);
    promtoolCheck(text);
  });

  it('counts a miner-reported failure and a cancellation by reason', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api, { enrolment_token: enrolmentToken });
    await submitChat(api, business);
    const claimed = await claimJob(api, miner);
    const scrape = async () => parsePrometheus(await (await fetch(`${api.url}/metrics?format=prometheus`)).text());
    const before = (await scrape()).get('mia_job_failures_total{reason="reported_failure"}') ?? 0;
    const failed = await postResult(api, miner, claimed.body, { success: false, error: 'out of memory', output: undefined, tokens_generated: undefined });
    assert.equal(failed.status, 200, failed.text);
    assert.equal((await scrape()).get('mia_job_failures_total{reason="reported_failure"}'), before + 1);

    const cancelledBefore = (await scrape()).get('mia_job_failures_total{reason="cancelled"}') ?? 0;
    const queued = await submitChat(api, business);
    assert.equal((await api.request('DELETE', `/job/${queued.body.job_id}`, { token: business.api_key })).status, 200);
    assert.equal((await scrape()).get('mia_job_failures_total{reason="cancelled"}'), cancelledBefore + 1);
  });
});
