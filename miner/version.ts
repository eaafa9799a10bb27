// The miner's version: the package's, so `mia-miner --version` and the release agree.
import { readFileSync } from 'node:fs';

export function minerVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}
