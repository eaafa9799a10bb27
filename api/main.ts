// `npm start`: configuration, database (embedded when DATABASE_URL is unset),
// migrations, operator token, HTTP server, and a graceful SIGTERM/SIGINT.
import { ConfigError, loadConfig } from './config.ts';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embeddedPostgres.ts';
import { EmbeddedPostgresAccessError } from './db/postgresUserAccess.ts';
import { migrate } from './db/migrate.ts';
import { ensureAdminToken } from './auth/adminToken.ts';
import { startServer } from './server.ts';
import { errorFields, log, setLogLevel } from './log.ts';

async function main(): Promise<void> {
  const config = loadConfig();
  setLogLevel(config.MIA_LOG_LEVEL);
  const admin = ensureAdminToken(config);

  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = config.DATABASE_URL;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres({
      dataDir: config.MIA_DATA_DIR,
      port: config.MIA_EMBEDDED_PG_PORT,
      rootRuntimeDir: config.MIA_ROOT_RUNTIME_DIR,
    });
    databaseUrl = embedded.url;
    log.info('embedded postgres running', { port: config.MIA_EMBEDDED_PG_PORT, dataDir: embedded.dataDir });
  }

  try {
    await migrate(databaseUrl);
    const server = await startServer(config, { databaseUrl, adminToken: admin.token });
    log.info('MIA API listening', { url: server.url, docs: `${server.url}/docs` });
    if (admin.source === 'generated') {
      // Printed once, on first start only: the file keeps it for later runs.
      process.stdout.write(
        `\nOperator token (shown once; also saved to ${admin.file}):\n  ${admin.token}\n` +
          `Use it as: Authorization: Bearer <token>\n\n`,
      );
    } else if (admin.source === 'file') {
      log.info('operator token loaded', { file: admin.file });
    }

    let stopping = false;
    const stop = (signal: string) => {
      // A repeated signal changes nothing (tsx relays a terminal's Ctrl-C a second time).
      if (stopping) return;
      stopping = true;
      log.info('shutting down', { signal });
      // In-flight requests get MIA_SHUTDOWN_TIMEOUT_MS; closing pools and the
      // embedded database get a few seconds more. Past that, something hangs:
      // exit anyway rather than leave a process that ignores SIGTERM.
      setTimeout(() => {
        log.error('shutdown did not finish in time; exiting', { timeoutMs: config.MIA_SHUTDOWN_TIMEOUT_MS + 10_000 });
        process.exit(1);
      }, config.MIA_SHUTDOWN_TIMEOUT_MS + 10_000).unref();
      server
        .close()
        .then(() => embedded?.stop())
        .then(() => {
          log.info('stopped');
          process.exit(0);
        })
        .catch((error: unknown) => {
          log.error('shutdown failed', errorFields(error));
          process.exit(1);
        });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof EmbeddedPostgresAccessError) {
    process.stderr.write(`${error.message}\n`);
  } else {
    log.error('failed to start', errorFields(error));
  }
  process.exit(1);
});
