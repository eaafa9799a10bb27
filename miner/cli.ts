// Entry point of `mia-miner` (bin: miner/bin/mia-miner.js; `npm run miner -- …`).
import { ConfigError, helpText, parseCommandLine } from './config.ts';
import { runStatus } from './backend/credits.ts';
import { runDoctor } from './doctor.ts';
import { minerVersion } from './version.ts';
import { createLogger, errorMessage } from './lib/log.ts';
import { FatalError, runMiner } from './runMiner.ts';

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCommandLine(argv);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`mia-miner: ${error.message}\n\n${helpText()}\n`);
      return 2;
    }
    throw error;
  }
  const { command, config, help, version, given } = parsed;
  if (version || command === 'version') {
    process.stdout.write(`mia-miner ${minerVersion()} (Node ${process.versions.node})\n`);
    return 0;
  }
  if (help || command === 'help' || command === undefined) {
    process.stdout.write(helpText() + '\n');
    return command === undefined && !help ? 2 : 0;
  }
  if (command === 'doctor') {
    const { ok } = await runDoctor(config);
    return ok ? 0 : 1;
  }
  if (command === 'status') return runStatus(config, given.has('backendUrl'));
  if (command !== 'run') {
    process.stderr.write(`mia-miner: unknown command "${command}"\n\n${helpText()}\n`);
    return 2;
  }

  const logger = createLogger({ level: config.logLevel, format: config.logFormat });
  const shutdown = new AbortController();
  const force = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!shutdown.signal.aborted) {
      logger.info(`${signal}: draining (send it again to stop without waiting for jobs)`);
      shutdown.abort();
    } else if (!force.signal.aborted) {
      logger.warn(`${signal} again: abandoning in-flight jobs`);
      force.abort();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await runMiner(config, logger, { shutdown: shutdown.signal, force: force.signal });
  } catch (error) {
    if (error instanceof FatalError) {
      logger.error(error.message);
      return 1;
    }
    logger.error('miner failed', { error: errorMessage(error), stack: (error as Error).stack });
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

// Exit explicitly: an idle keep-alive socket to the backend must not keep a stopped
// miner alive. Writes to pipes and files are synchronous on Linux, so no log is lost.
process.exit(await main(process.argv.slice(2)));
