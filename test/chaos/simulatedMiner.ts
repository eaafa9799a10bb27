// A miner as a separate process, for chaos tests that kill one: it speaks the
// miner protocol over HTTP and prints one JSON line per event on stdout.
//
//   MIA_URL, MINER_ID, MINER_KEY   whom to talk to, as whom
//   MODE=hold    claim one job, print it, then keep it without ever answering
//                (and without heartbeats) until killed
//   MODE=work    claim and answer jobs until SIGTERM, riding out an API that is
//                down or restarting (network errors and 5xx are retried)
//   MAX_SECONDS  lifetime bound (default 120): the process exits by then whatever happens
//
// Run: node --import tsx test/chaos/simulatedMiner.ts
const url = required('MIA_URL');
const minerId = required('MINER_ID');
const minerKey = required('MINER_KEY');
const mode = process.env.MODE ?? 'work';
const headers = { authorization: `Bearer ${minerKey}`, 'content-type': 'application/json' };

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

function emit(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type ClaimedJob = { job_id: string; session_id: string; lease_token: string; prompt: string };

// Nothing a test spawns may outlive it, even if the test forgets to stop it.
setTimeout(() => {
  emit('expired');
  process.exit(2);
}, Number(process.env.MAX_SECONDS ?? 120) * 1000).unref();

let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
});

async function claim(waitSeconds: number): Promise<ClaimedJob | null> {
  const res = await fetch(`${url}/job/next?miner_id=${minerId}&wait=${waitSeconds}`, { headers });
  if (res.status === 200) return (await res.json()) as ClaimedJob;
  await res.arrayBuffer();
  if (res.status !== 204) throw new Error(`claim answered ${res.status}`);
  return null;
}

async function answer(job: ClaimedJob): Promise<number> {
  const res = await fetch(`${url}/job/result`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      job_id: job.job_id,
      session_id: job.session_id,
      miner_id: minerId,
      success: true,
      output: `answer to: ${job.prompt}`,
      tokens_generated: 3,
      lease_token: job.lease_token,
    }),
  });
  await res.arrayBuffer();
  return res.status;
}

async function hold(): Promise<void> {
  emit('ready');
  for (;;) {
    const job = await claim(5);
    if (job) {
      emit('claimed', { job_id: job.job_id, lease_token: job.lease_token });
      // Keep the job: no result, no heartbeat. Only kill -9 ends this process.
      setInterval(() => {}, 60_000);
      return;
    }
  }
}

async function work(): Promise<void> {
  emit('ready');
  while (!stopping) {
    try {
      const job = await claim(2);
      if (!job) continue;
      // Result submission is retried on network errors and 5xx, as the real supervisor does.
      for (let attempt = 0; ; attempt++) {
        try {
          const status = await answer(job);
          if (status < 500) {
            emit(status === 200 ? 'completed' : 'refused', { job_id: job.job_id, status });
            break;
          }
        } catch {
          /* API unreachable: retry below */
        }
        if (attempt >= 100) throw new Error(`could not post the result of ${job.job_id}`);
        await sleep(100);
      }
    } catch (error) {
      emit('error', { message: error instanceof Error ? error.message : String(error) });
      await sleep(100);
    }
  }
  emit('stopped');
}

await (mode === 'hold' ? hold() : work());
