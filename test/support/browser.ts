// A real Chromium for the widget and console tests: Debian's `chromium` (installed by
// .ci/run) driven by playwright-core, never a browser download. The flags keep Chromium
// off the network it cannot reach here (background networking, component updates, sync),
// which otherwise fills the run with refused connections.
import { chromium, type Browser } from 'playwright-core';
import { existsSync } from 'node:fs';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function chromiumAvailable(): boolean {
  return existsSync(chromiumPath);
}

export async function launchChromium(): Promise<Browser> {
  if (!chromiumAvailable()) {
    throw new Error(`no Chromium at ${chromiumPath}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH; .ci/run installs it`);
  }
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * Skips the calling test (or hook's block) where no Chromium is installed, so `npm test`
 * runs on a fresh machine with Node alone; .ci/run installs Chromium and sets
 * MIA_REQUIRE_BROWSER=1, so there a missing browser fails instead of skipping.
 */
export function requireChromium(test: Mocha.Context): void {
  if (chromiumAvailable()) return;
  if (process.env.MIA_REQUIRE_BROWSER === '1') throw new Error(`no Chromium at ${chromiumPath} and MIA_REQUIRE_BROWSER=1`);
  console.warn(`    skipped: no Chromium at ${chromiumPath} (apt-get install chromium, or set CHROMIUM_PATH)`);
  test.skip();
}
