// `mia-miner run`: the miner's life from start to a clean exit.
//
//   detect GPU → check files → register (or reuse identity) → start llama-server →
//   claim and answer jobs … until `shutdown` aborts → drain:
//   stop claiming, finish in-flight jobs (bounded), report offline, stop llama-server.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Backoff, sleep } from './lib/backoff.ts';
import type { Registration } from './backend/backendClient.ts';
import { BackendClient, BackendError } from './backend/backendClient.ts';
import type { MinerConfig } from './config.ts';
import { logCredits } from './backend/credits.ts';
import { detectGpus, gpuSummary } from './gpu.ts';
import { ensureIdentity, IdentityError } from './backend/identity.ts';
import { JobLoop } from './jobs/jobLoop.ts';
import type { LlamaEndpoint } from './process/llamaSupervisor.ts';
import { AttachedLlama, LlamaSupervisor } from './process/llamaSupervisor.ts';
import { llamaProps } from './llama/llamaClient.ts';
import type { Logger } from './lib/log.ts';
import { errorMessage } from './lib/log.ts';
import { killStaleLlama } from './process/stalePid.ts';
import { JobStats } from './jobs/stats.ts';
import { StatusReporter } from './backend/statusReporter.ts';

export class FatalError extends Error {
  override name = 'FatalError';
}

/** Fails fast on the mistakes an operator can fix, before anything is registered. */
async function checkFiles(config: MinerConfig): Promise<void> {
  if (config.llamaUrl) return;
  if (!config.model) {
    throw new FatalError(
      'no model: set --model /path/to/model.gguf (or MIA_MODEL), or attach with --llama-url',
    );
  }
  try {
    await fs.access(config.model, fs.constants.R_OK);
  } catch {
    throw new FatalError(
      `model file ${config.model} is missing or unreadable; fix --model / MIA_MODEL`,
    );
  }
  if (config.llamaServer.includes(path.sep)) {
    try {
      await fs.access(config.llamaServer, fs.constants.X_OK);
    } catch {
      throw new FatalError(
        `llama-server binary ${config.llamaServer} is missing or not executable; fix --llama-server / MIA_LLAMA_SERVER ` +
          '(miner/install.sh builds one)',
      );
    }
  }
}

async function registerWithRetry(
  client: BackendClient,
  config: MinerConfig,
  registration: Registration,
  logger: Logger,
  shutdown: AbortSignal,
) {
  const backoff = new Backoff({ initialMs: 1000, maxMs: 30_000 });
  for (;;) {
    try {
      return await ensureIdentity(client, {
        stateDir: config.stateDir,
        backendUrl: config.backendUrl,
        registration,
      });
    } catch (error) {
      if (error instanceof IdentityError) throw new FatalError(error.message);
      if (error instanceof BackendError && !error.retryable) {
        // The backend registers miners by token and we sent none or a wrong one.
        const hint = error.status === 403 && /enrolment/.test(error.message)
          ? '; ask the backend operator for the enrolment token and pass --enrolment-token (MIA_ENROLMENT_TOKEN)'
          : '';
        throw new FatalError(`registration refused: ${error.message}${hint}`);
      }
      if (shutdown.aborted) return undefined;
      const delay = backoff.next();
      logger.warn('backend unreachable; retrying registration', {
        backend: config.backendUrl,
        error: errorMessage(error),
        in_s: (delay / 1000).toFixed(1),
      });
      await sleep(delay, shutdown);
    }
  }
}

export interface RunHandles {
  /** Abort to drain and exit (first SIGINT/SIGTERM). */
  shutdown: AbortSignal;
  /** Abort to give up on in-flight jobs at once (second signal). */
  force?: AbortSignal;
}

/** Returns the process exit code. */
export async function runMiner(
  config: MinerConfig,
  logger: Logger,
  handles: RunHandles,
): Promise<number> {
  const { shutdown } = handles;
  await checkFiles(config);

  const detection = await detectGpus();
  if (detection.kind === 'gpu') {
    for (const g of detection.gpus) {
      logger.info(
        `GPU ${g.index}: ${g.name}, ${g.memory_mb} MiB, driver ${g.driver_version}, compute ${g.compute_capability}`,
      );
    }
  } else {
    logger.warn(`no GPU: ${detection.reason}; llama-server will run on the CPU (slow)`);
  }

  const pidFile = path.join(config.stateDir, 'llama-server.pid');
  if (!config.llamaUrl) await killStaleLlama(pidFile, config.llamaServer, logger);

  let llama: LlamaEndpoint;
  if (config.llamaUrl) {
    llama = new AttachedLlama(config.llamaUrl, {
      logger,
      probeTimeoutMs: config.probeTimeout * 1000,
      graceMs: config.attachGrace * 1000,
      // At least three checks within the grace, so a blip is seen as one.
      checkIntervalMs: Math.min(5000, Math.max(250, (config.attachGrace * 1000) / 3)),
    });
  } else {
    llama = new LlamaSupervisor({
      binary: config.llamaServer,
      model: config.model!,
      gpuLayers: detection.kind === 'gpu' ? config.gpuLayers : 0,
      slots: config.slots,
      ctxPerSlot: config.ctxPerSlot,
      extraArgs: config.extraLlamaArgs,
      startupTimeoutMs: config.startupTimeout * 1000,
      stopGraceMs: config.stopGrace * 1000,
      restartBackoffMs: config.restartBackoff * 1000,
      maxRestarts: config.maxRestarts,
      probeTimeoutMs: config.probeTimeout * 1000,
      pidFile,
      logger,
    });
  }

  let modelName = config.model ? path.basename(config.model) : undefined;
  let contextLength = config.ctxPerSlot;
  if (config.llamaUrl) {
    const props = await llamaProps(config.llamaUrl.replace(/\/+$/, ''));
    if (props?.modelPath) modelName = path.basename(props.modelPath);
    if (props?.nCtxPerSlot) contextLength = props.nCtxPerSlot;
  }
  const claimAhead = config.claimAhead ?? config.slots;
  const registration: Registration = {
    name: config.name,
    ...gpuSummary(detection),
    ...(detection.kind === 'cpu'
      ? { gpu_name: `CPU (${os.cpus()[0]?.model.trim() ?? 'unknown'})`.slice(0, 200) }
      : {}),
    // Not serving until llama-server is ready; the status reporter says idle then.
    status: 'offline',
    ...(modelName ? { model: modelName.slice(0, 500) } : {}),
    context_length: contextLength,
    // The backend lets a miner hold `slots` running jobs: the llama-server slots plus the
    // jobs claimed ahead of them (jobs/jobLoop.ts), at most the 256 it accepts.
    slots: Math.min(256, config.slots + claimAhead),
    ...(config.enrolmentToken ? { enrolment_token: config.enrolmentToken } : {}),
  };
  const client = new BackendClient({ baseUrl: config.backendUrl });
  const registered = await registerWithRetry(client, config, registration, logger, shutdown);
  if (!registered) {
    logger.info('stopped before registration completed');
    return 0;
  }
  const { identity, created } = registered;
  logger.info(created ? 'registered as a new miner' : 'registered again with the stored identity', {
    miner_id: identity.miner_id,
    name: identity.name,
    state_file: path.join(config.stateDir, 'miner.json'),
  });

  const status = new StatusReporter({
    backend: client,
    minerId: identity.miner_id,
    logger,
    // `loop` is built below: leases are only ever lost for jobs the loop started.
    onLeasesLost: (tokens) => loop.leasesLost(tokens),
  });
  const stats = new JobStats();
  // Until llama-server first comes up the miner is offline; a crash loop says so too.
  status.setOffline('llama-server starting');
  llama.on('available', () => status.setOffline(undefined));
  // The backend routes jobs by the context each slot really has (sql/job_claim.sql). That
  // is /props' n_ctx, which can be less than --ctx-per-slot asked for (--llama-args with
  // its own -c, a model's limit): tell the backend when it differs.
  llama.on('available', () => void reportContext());
  async function reportContext(): Promise<void> {
    const perSlot = llama.url ? (await llamaProps(llama.url))?.nCtxPerSlot : undefined;
    if (!perSlot || perSlot === registration.context_length) return;
    const asked = registration.context_length;
    registration.context_length = perSlot;
    try {
      await client.register({ ...registration, status: status.status });
      logger.warn('llama-server gives each slot another context than asked; the backend now routes by it', { asked, n_ctx: perSlot });
    } catch (error) {
      logger.warn('could not tell the backend the context size', { error: errorMessage(error) });
    }
  }
  llama.on('unavailable', (reason: string) => status.setOffline(reason));
  // Also releases leases a previous run of this miner still held (it was killed).
  status.start();
  llama.start();

  const loop = new JobLoop({
    backend: client,
    llama,
    status,
    stats,
    logger,
    minerId: identity.miner_id,
    slots: config.slots,
    claimAhead,
    pollWaitSeconds: config.pollWait,
    generationTimeoutMs: config.generationTimeout * 1000,
    readyWaitMs: Math.min(config.startupTimeout * 1000 + 30_000, 10 * 60_000),
  });
  const summary = setInterval(() => {
    stats.logSummary(logger);
    void logCredits(client, identity.miner_id, logger);
  }, config.summaryInterval * 1000);
  summary.unref();

  const claiming = loop.run(shutdown);
  await new Promise<void>((resolve) => {
    if (shutdown.aborted) resolve();
    else shutdown.addEventListener('abort', () => resolve(), { once: true });
  });

  // Drain. 1: tell the backend, stop claiming (run() returns when shutdown aborted).
  logger.info('draining: no new jobs; finishing the ones in flight', {
    in_flight: loop.activeJobs,
    timeout_s: config.drainTimeout,
  });
  status.setDraining();
  await claiming;
  // 2: finish in-flight jobs, bounded by the drain timeout or a second signal.
  const { abandoned } = await loop.drain(config.drainTimeout * 1000, handles.force);
  if (abandoned > 0)
    logger.warn(`${abandoned} job(s) abandoned; the offline report hands them back`);
  // 3: offline (also returns any lease still held), 4: stop llama-server.
  await status.close();
  await llama.stop();
  clearInterval(summary);
  stats.logSummary(logger);
  await logCredits(client, identity.miner_id, logger);
  logger.info('miner stopped');
  return 0;
}
