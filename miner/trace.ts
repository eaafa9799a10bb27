// TEMPORARY instrumentation (not to be committed).
import { appendFileSync } from 'node:fs';
const file = process.env.MIA_TRACE_FILE;
export function trace(event: string, extra = ''): void {
  if (file) appendFileSync(file, `${performance.timeOrigin + performance.now()} ${event} ${extra}\n`);
}
