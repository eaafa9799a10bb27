// The operator token. Production must be given one (MIA_ADMIN_TOKEN); a
// developer's machine gets one generated on first start, printed once and kept
// in MIA_DATA_DIR/admin-token (mode 0600) so restarts keep it.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type Config } from '../config.ts';
import { generateSecret } from './secrets.ts';

export type AdminToken = { token: string; source: 'env' | 'file' | 'generated'; file?: string };

export function ensureAdminToken(config: Config): AdminToken {
  if (config.MIA_ADMIN_TOKEN) return { token: config.MIA_ADMIN_TOKEN, source: 'env' };
  if (config.production) {
    throw new ConfigError('invalid configuration:\n  MIA_ADMIN_TOKEN: required when NODE_ENV=production');
  }
  const file = path.resolve(config.MIA_DATA_DIR, 'admin-token');
  if (existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim();
    if (token.length >= 16) return { token, source: 'file', file };
  }
  mkdirSync(path.dirname(file), { recursive: true });
  const token = generateSecret('operator');
  writeFileSync(file, token + '\n', { mode: 0o600 });
  return { token, source: 'generated', file };
}
