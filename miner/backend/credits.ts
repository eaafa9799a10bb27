// What a volunteer sees of their earnings: one line in the periodic summary, and
// `mia-miner status`, which reads the identity in the state directory and asks the
// backend (GET /miners/{id}/credits) without starting anything. The backend's
// ledger is the only truth; nothing here is counted locally.
import { BackendClient, BackendError, type MinerCredits } from './backendClient.ts';
import type { MinerConfig } from '../config.ts';
import { readIdentity, stateFilePath } from './identity.ts';
import type { Logger } from '../lib/log.ts';

const amount = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 2 });

/** Where the miner's credits stand, in words (escrow until the backend trusts the miner). */
function standing(c: MinerCredits): string {
  if (c.suspended) return 'suspended: no jobs and no credits until the operator lifts it';
  if (c.state === 'available') return `trusted since ${c.trusted_at ?? '?'}: credits are available`;
  if (c.state === 'frozen') return `frozen: ${c.suspicions} suspicious result(s) during escrow, the operator reviews them`;
  return 'in escrow: credits become available once the backend trusts this miner';
}

/** The summary's line: all-time totals by state, and the report's range. */
export function creditsLine(c: MinerCredits): string {
  return (
    `credits: ${amount(c.totals.pending)} pending, ${amount(c.totals.frozen)} frozen, ${amount(c.totals.available)} available; ` +
    `${amount(c.credits_in_range)} since ${c.from.slice(0, 10)} (${standing(c)})`
  );
}

/**
 * Logs the credits line; a backend that cannot answer now only costs this line, and
 * at most a few seconds (it also runs while the miner stops).
 */
export async function logCredits(client: BackendClient, minerId: string, logger: Logger): Promise<void> {
  try {
    logger.info(creditsLine(await client.credits(minerId, 3_000)));
  } catch (error) {
    logger.debug('credits not available now', { error: (error as Error).message });
  }
}

/** The credits report as a table: one row per day, kind and model. */
export function creditsReport(c: MinerCredits): string {
  const rows = c.days.map((d) => [d.day, d.kind, d.model || '-', String(d.entries), amount(d.tokens), amount(d.credits)]);
  const header = ['day', 'kind', 'model', 'entries', 'tokens', 'credits'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i >= 3 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ');
  return [
    `state:    ${standing(c)}`,
    `totals:   ${amount(c.totals.pending)} pending, ${amount(c.totals.frozen)} frozen, ${amount(c.totals.available)} available`,
    `${c.from.slice(0, 10)} to ${c.to.slice(0, 10)}: ${amount(c.credits_in_range)} credits`,
    ...(rows.length > 0 ? ['', line(header), ...rows.map(line)] : ['(no credits in this range yet)']),
  ].join('\n');
}

/**
 * `mia-miner status`: who this miner is and what it has earned. Exit 1 with one line
 * saying why when there is no identity yet or the backend cannot answer.
 */
export async function runStatus(
  config: MinerConfig,
  backendUrlGiven: boolean,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const identity = await readIdentity(config.stateDir);
  if (!identity) {
    process.stderr.write(`mia-miner: no identity in ${stateFilePath(config.stateDir)}; \`mia-miner run\` registers one\n`);
    return 1;
  }
  // The backend the identity was registered with, unless the operator names another.
  const backendUrl = backendUrlGiven ? config.backendUrl : identity.backend_url;
  const client = new BackendClient({ baseUrl: backendUrl });
  client.setAuthKey(identity.auth_key);
  out.write(`miner:    ${identity.name} (${identity.miner_id})\nbackend:  ${backendUrl}\nidentity: ${stateFilePath(config.stateDir)}\n`);
  try {
    out.write(creditsReport(await client.credits(identity.miner_id)) + '\n');
    return 0;
  } catch (error) {
    const why = error instanceof BackendError && error.status === 401
      ? 'the backend does not accept this identity\'s key (was the miner deleted?)'
      : (error as Error).message;
    process.stderr.write(`mia-miner: credits unavailable: ${why}\n`);
    return 1;
  }
}
