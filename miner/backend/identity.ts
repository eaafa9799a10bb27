// A miner's identity is its id plus the auth key the backend showed once. Both live
// in one state file readable only by the operator (0600), written atomically, so a
// restart — or a crash mid-write — never loses the key and never forks the identity.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { BackendClient, Registration } from './backendClient.ts';
import { BackendError } from './backendClient.ts';

const StateSchema = z.object({
  miner_id: z.string(),
  auth_key: z.string(),
  name: z.string(),
  backend_url: z.string(),
  registered_at: z.string(),
});
export type MinerIdentity = z.infer<typeof StateSchema>;

export const STATE_FILE = 'miner.json';

export function stateFilePath(stateDir: string): string {
  return path.join(stateDir, STATE_FILE);
}

export async function readIdentity(stateDir: string): Promise<MinerIdentity | undefined> {
  let text: string;
  try {
    text = await fs.readFile(stateFilePath(stateDir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = StateSchema.safeParse(JSON.parse(text));
  if (!parsed.success)
    throw new Error(`${stateFilePath(stateDir)} is not a miner state file; move it away`);
  return parsed.data;
}

export async function writeIdentity(stateDir: string, identity: MinerIdentity): Promise<void> {
  await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const file = stateFilePath(stateDir);
  const tmp = `${file}.${process.pid}.tmp`;
  // Created 0600 from the start: the key is never readable by others, not even briefly.
  await fs.writeFile(tmp, JSON.stringify(identity, null, 2) + '\n', { mode: 0o600 });
  await fs.chmod(tmp, 0o600);
  await fs.rename(tmp, file);
}

export class IdentityError extends Error {
  override name = 'IdentityError';
}

/** A backend URL in one spelling: no trailing slash, no default port, lower-case host (URL does that). */
export function normalizeBackendUrl(backendUrl: string): string {
  try {
    const url = new URL(backendUrl);
    return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  } catch {
    return backendUrl;
  }
}

/**
 * Registers (first run) or re-registers with the stored key (later runs; the backend
 * answers 200 with the same id and refreshes the specs). Sets the client's key.
 *
 * A --backend-url other than the stored one may still be the same backend (another
 * spelling, a host alias, https instead of http, a new load balancer): the stored
 * key is tried there first. Accepted for that name, it is the same backend, and the
 * state file takes the new URL. Refused (401), it is another backend: the old file
 * is moved aside (its key may be wanted back) and the miner registers anew.
 */
export async function ensureIdentity(
  client: BackendClient,
  options: { stateDir: string; backendUrl: string; registration: Registration },
): Promise<{ identity: MinerIdentity; created: boolean }> {
  const { stateDir, backendUrl, registration } = options;
  const stored = await readIdentity(stateDir);
  if (stored && stored.name === registration.name) {
    const sameUrl = normalizeBackendUrl(stored.backend_url) === normalizeBackendUrl(backendUrl);
    client.setAuthKey(stored.auth_key);
    try {
      const reply = await client.register(registration);
      if (reply.miner_id !== stored.miner_id) {
        throw new IdentityError(
          `backend answered miner id ${reply.miner_id}, state file has ${stored.miner_id}`,
        );
      }
      if (stored.backend_url !== backendUrl) {
        const moved = { ...stored, backend_url: backendUrl };
        await writeIdentity(stateDir, moved);
        return { identity: moved, created: false };
      }
      return { identity: stored, created: false };
    } catch (error) {
      if (!(error instanceof BackendError && error.keyRefused)) throw error;
      if (sameUrl) {
        throw new IdentityError(
          `the backend no longer accepts the key in ${stateFilePath(stateDir)} (was the miner deleted?); ` +
            'move that file away to register as a new miner',
        );
      }
      // Another backend, which does not know this key: register there as new (below).
    }
  }
  client.setAuthKey(undefined);
  if (stored) {
    // Another name or backend: keep the old key rather than overwrite it, it may be wanted back.
    const backup = `${stateFilePath(stateDir)}.${Date.now()}.bak`;
    await fs.rename(stateFilePath(stateDir), backup);
  }
  let reply;
  try {
    reply = await client.register(registration);
  } catch (error) {
    if (error instanceof BackendError && error.status === 409) {
      throw new IdentityError(
        `the name "${registration.name}" belongs to another miner at ${backendUrl}; pick another with --name, ` +
          `or restore that miner's ${STATE_FILE} into ${stateDir}`,
      );
    }
    throw error;
  }
  if (!reply.auth_key)
    throw new IdentityError('the backend registered the miner but sent no auth key');
  const identity: MinerIdentity = {
    miner_id: reply.miner_id,
    auth_key: reply.auth_key,
    name: registration.name,
    backend_url: backendUrl,
    registered_at: new Date().toISOString(),
  };
  await writeIdentity(stateDir, identity);
  client.setAuthKey(identity.auth_key);
  return { identity, created: true };
}
