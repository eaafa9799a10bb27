// `npm run migrate`: apply migrations and exit (DATABASE_URL, or the embedded database).
import { loadConfig } from '../config.ts';
import { startEmbeddedPostgres } from './embeddedPostgres.ts';
import { migrate } from './migrate.ts';
import { errorFields, log } from '../log.ts';
import { EmbeddedPostgresAccessError } from './postgresUserAccess.ts';

const config = loadConfig();
const embedded = config.DATABASE_URL
  ? undefined
  : await startEmbeddedPostgres({
      dataDir: config.MIA_DATA_DIR,
      port: config.MIA_EMBEDDED_PG_PORT,
      rootRuntimeDir: config.MIA_ROOT_RUNTIME_DIR,
    }).catch(
      (error: unknown) => {
        if (!(error instanceof EmbeddedPostgresAccessError)) throw error;
        process.stderr.write(`${error.message}\n`);
        process.exit(1);
      },
    );
try {
  const applied = await migrate(config.DATABASE_URL ?? embedded!.url, { quiet: true });
  log.info(applied.length ? 'migrations applied' : 'database already up to date', { migrations: applied });
} catch (error) {
  log.error('migration failed', errorFields(error));
  process.exitCode = 1;
} finally {
  await embedded?.stop();
}
