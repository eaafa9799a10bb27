// Running one job on llama-server: the generation call with its retry policy, and the
// streamed output forwarded to the backend while it runs.
import type { BackendClient, ClaimedJob } from '../backend/backendClient.ts';
import type { Completion } from '../llama/llamaClient.ts';
import type { ChatRequest } from '../llama/requestBody.ts';
import { formatGrammar } from '../llama/formatGrammar.ts';
import { chatCompletion, chatCompletionStream, LlamaError } from '../llama/llamaClient.ts';
import type { LlamaEndpoint } from '../process/llamaSupervisor.ts';
import type { Logger } from '../lib/log.ts';
import { errorMessage } from '../lib/log.ts';
import { StreamForwarder } from './streamForwarder.ts';
import { classifyFailure, type ClassifiedFailure } from '../llama/failureCode.ts';

export interface GenerateOptions {
  backend: Partial<Pick<BackendClient, 'postDeltas'>>;
  llama: Pick<LlamaEndpoint, 'url' | 'isReady' | 'waitReady' | 'suspect'>;
  logger: Logger;
  generationTimeoutMs: number;
  /** How long a job waits for a crashed llama-server to come back before handing the job back. */
  readyWaitMs: number;
  /** Generation tries per job on this miner (a crash mid-job costs one). */
  localAttempts?: number;
  /** Stream output to the backend while generating (needs backend.postDeltas); default on. */
  stream?: boolean;
}

export interface Generation {
  completion?: Completion;
  error?: string;
  /** Why there is no completion, in the backend's vocabulary (miner/llama/failureCode.ts). */
  failure?: ClassifiedFailure;
  seconds: number;
}

/**
 * Generates one job's answer. `leaseLost` stops it at once (the heartbeat or a refused
 * delta batch aborts it); `abandon` is the drain deadline.
 */
export async function generate(
  options: GenerateOptions,
  job: ClaimedJob,
  leaseLost: AbortController,
  abandon: AbortSignal,
): Promise<Generation> {
  const { llama, logger } = options;
  const attempts = options.localAttempts ?? 2;
  const started = performance.now();
  let error = 'llama-server is not ready';
  let failure: ClassifiedFailure = { code: 'unavailable' };
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    if (abandon.aborted) break;
    // The endpoint tracks readiness itself (process state, health watch): probing
    // /health before every job would add a round trip to each. A server that died
    // unnoticed fails the call as a server fault, and the retry probes first.
    const ready = (attempt === 1 && llama.isReady()) || (await llama.waitReady(options.readyWaitMs, abandon));
    if (!ready || !llama.url) {
      error = `llama-server was not ready within ${Math.round(options.readyWaitMs / 1000)} s`;
      break;
    }
    const callStarted = performance.now();
    const request = {
      messages: job.messages,
      max_tokens: job.max_tokens,
      temperature: job.temperature,
      tools: job.tools,
      tool_choice: job.tool_choice,
      sampling: job.sampling,
    };
    const call = { signal: leaseLost.signal, timeoutMs: options.generationTimeoutMs };
    const forwarder = forwarderFor(options, job, leaseLost);
    const url = llama.url;
    const run = (body: ChatRequest) => forwarder
      ? chatCompletionStream(url, body, { ...call, onDelta: (delta) => forwarder.push(delta) })
      : chatCompletion(url, body, call);
    try {
      const completion = await withFormatFallback(request, run, logger, job.job_id);
      return { completion, seconds: (performance.now() - callStarted) / 1000 };
    } catch (err) {
      if (abandon.aborted || leaseLost.signal.aborted) break;
      error = errorMessage(err);
      failure = classifyFailure(err);
      // A timeout is not retried on this server: it may be hung (a deadlocked
      // llama-server still answers /health). The endpoint probes it and restarts it if
      // it is; the job goes back to the backend, which can give it to another miner.
      if (err instanceof LlamaError && err.type === 'timeout') {
        llama.suspect(`job ${job.job_id}: ${error}`);
        break;
      }
      // A server fault (crash, restart, overload) is not the job's fault: try again
      // here once llama-server is back. A 4xx is the request's fault: report it.
      if (err instanceof LlamaError && err.serverFault && attempt < attempts) {
        logger.warn('llama-server failed mid-job; retrying when it is back', { job: job.job_id, error });
        continue;
      }
      break;
    } finally {
      // Never awaited: a batch still in flight must not hold up the next job or this
      // job's result. It cannot outlive the job: the backend stores a batch only while
      // the job runs, under a lock its completion also takes (sql/job_delta_append.sql).
      void forwarder?.close();
    }
  }
  return { error, failure, seconds: (performance.now() - started) / 1000 };
}

/**
 * llama-server builds `response_format`'s grammar itself; where it cannot (400 "Failed to
 * initialize samplers": a model whose vocabulary lacks its chat template's special
 * tokens), the job is tried once more with our plain grammar for the same format
 * (miner/llama/formatGrammar.ts). Nothing was streamed: the failure comes before the first token.
 */
async function withFormatFallback(
  request: ChatRequest,
  run: (request: ChatRequest) => Promise<Completion>,
  logger: Logger,
  jobId: string,
): Promise<Completion> {
  try {
    return await run(request);
  } catch (error) {
    const format = request.sampling?.response_format;
    if (!(error instanceof LlamaError) || error.status !== 400 || !format || !/initiali[sz]e samplers/i.test(error.message)) throw error;
    const fallback = formatGrammar(format);
    if (!fallback) throw error;
    if ('unsupported' in fallback) {
      throw new LlamaError(`${error.message}; the fallback grammar cannot express it either: ${fallback.unsupported}`, 400, 'invalid_request_error');
    }
    logger.info('llama-server could not build the response_format grammar; retrying with our own', { job: jobId });
    const { response_format: _dropped, ...sampling } = request.sampling!;
    return run({ ...request, sampling: { ...sampling, grammar: fallback.grammar } });
  }
}

/** A forwarder for this job's output when streaming is on; a lost lease aborts `leaseLost`. */
function forwarderFor(options: GenerateOptions, job: ClaimedJob, leaseLost: AbortController): StreamForwarder | undefined {
  const { backend, logger } = options;
  if (options.stream === false || !backend.postDeltas) return undefined;
  return new StreamForwarder({
    backend: { postDeltas: backend.postDeltas.bind(backend) },
    jobId: job.job_id,
    leaseToken: job.lease_token,
    logger,
    onLeaseLost: () => leaseLost.abort(new Error('lease lost')),
  });
}
