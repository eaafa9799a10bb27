// `npm run bench` (whole suite, under 10 minutes on 2 cores) and
// `npm run bench -- --quick` (every scenario, small counts, under a minute;
// CI runs it so the harness keeps working — it asserts no timings).
//
//   --quick            small counts
//   --only=a,b         run only these scenarios (ids as printed)
//   --out=<file>       where the JSON goes (default bench/results/<date>[-quick][-only-…].json)
//
// Environment: BENCH_DATABASE_URL (use that server instead of the embedded
// one), BENCH_PG_PORT (embedded port, 54349), BENCH_API_CPU_PROF=<dir> (V8 CPU
// profiles of the API processes), LLAMA_SERVER_BIN + LLAMA_MODEL (scenario 7
// with a real llama-server).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startBenchPostgres } from './lib/benchPostgres.ts';
import { liveApiProcesses } from './lib/apiProcess.ts';
import { newReport, type Scenario, type ScenarioContext } from './lib/scenario.ts';
import { renderNotes, renderTable, type ScenarioResult } from './lib/report.ts';
import { dispatchLatency } from './scenarios/dispatchLatency.ts';
import { queueThroughput } from './scenarios/queueThroughput.ts';
import { batchThroughput } from './scenarios/batchThroughput.ts';
import { idleLongPolls } from './scenarios/idleLongPolls.ts';
import { claimVsTableSize } from './scenarios/claimVsTableSize.ts';
import { claimWithPools } from './scenarios/claimWithPools.ts';
import { submitPath } from './scenarios/submitPath.ts';
import { supervisorOverhead } from './scenarios/supervisorOverhead.ts';
import { timeToFirstToken } from './scenarios/timeToFirstToken.ts';

const scenarios: Scenario[] = [dispatchLatency, queueThroughput, batchThroughput, idleLongPolls, claimVsTableSize, claimWithPools, submitPath, supervisorOverhead, timeToFirstToken];

/**
 * Seconds after which no further scenario starts (the machine is too busy for a meaningful
 * run anyway). A quiet full run takes ~600 s since scenarios 2 and 3 measure the stack's
 * floor too (2026-12-06: 526 s before scenario 8 could start).
 */
const suiteBudgetS = (quick: boolean) => (quick ? 50 : 600);

function parseArgs(argv: string[]) {
  const args = { quick: false, only: null as string[] | null, out: null as string | null };
  for (const arg of argv) {
    if (arg === '--quick') args.quick = true;
    else if (arg.startsWith('--only=')) args.only = arg.slice(7).split(',').filter(Boolean);
    else if (arg.startsWith('--out=')) args.out = arg.slice(6);
    else throw new Error(`unknown argument ${arg} (use --quick, --only=<ids>, --out=<file>)`);
  }
  return args;
}

function openFileLimit(): string {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  const [soft, hard] = line?.split(/\s{2,}/).slice(1, 3) ?? ['?', '?'];
  return `${soft} (hard ${hard})`;
}

function gitCommit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head}+uncommitted` : head;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const chosen = args.only ? scenarios.filter((s) => args.only!.includes(s.id)) : scenarios;
  if (args.only && chosen.length !== args.only.length) {
    throw new Error(`unknown scenario in --only; known: ${scenarios.map((s) => s.id).join(', ')}`);
  }
  const started = performance.now();
  const pg = await startBenchPostgres();
  // A crash or Ctrl-C must not leave API processes or the cluster behind.
  const emergencyStop = (why: string) => {
    process.stderr.write(`\nbench stopping: ${why}\n`);
    for (const child of liveApiProcesses) child.kill('SIGKILL');
    void pg.stop().finally(() => process.exit(1));
  };
  process.once('SIGINT', () => emergencyStop('SIGINT'));
  process.once('SIGTERM', () => emergencyStop('SIGTERM'));
  process.once('uncaughtException', (error) => emergencyStop(`uncaught ${error.stack ?? error.message}`));
  const machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    postgres: pg.version,
    postgresSource: pg.source,
    openFiles: openFileLimit(),
    commit: gitCommit(),
  };
  process.stdout.write(
    `MIA bench (${args.quick ? 'quick' : 'full'}): ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}, ` +
      `PostgreSQL ${machine.postgres} [${machine.postgresSource}], open files ${machine.openFiles}, commit ${machine.commit}\n`,
  );

  const ctx: ScenarioContext = {
    quick: args.quick,
    pg,
    // Rate limits are per key; simulated miners and the chat client must not be throttled.
    // The bench's miners are fresh: on probation they would take one job at a time, and the
    // scenarios measure the queue with established miners (probation is tested, not timed).
    apiEnv: { MIA_RATE_LIMIT_CHAT_PER_SECOND: '0', MIA_RATE_LIMIT_MINER_PER_SECOND: '0', MIA_PROBATION_JOBS: '0' },
    progress: (line) => process.stdout.write(`  ${line}\n`),
  };
  const results: ScenarioResult[] = [];
  try {
    for (const scenario of chosen) {
      process.stdout.write(`\n[${scenario.id}] ${scenario.title}\n`);
      const report = newReport();
      // Every loop inside a scenario is bounded; this bounds the suite: once the
      // budget is spent, the scenarios left are reported as skipped, not run.
      const elapsedS = (performance.now() - started) / 1000;
      if (elapsedS > suiteBudgetS(args.quick)) {
        results.push({ id: scenario.id, title: scenario.title, seconds: 0, ...report, skipped: `suite time budget (${suiteBudgetS(args.quick)} s) spent` });
        continue;
      }
      const t0 = performance.now();
      let error: string | undefined;
      try {
        await scenario.run(ctx, report);
      } catch (e) {
        error = e instanceof Error ? e.message.split('\n')[0]! : String(e);
        process.stderr.write(`  FAILED: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      }
      const result: ScenarioResult = { id: scenario.id, title: scenario.title, seconds: (performance.now() - t0) / 1000, ...report };
      if (error) result.error = error;
      results.push(result);
      process.stdout.write(`  done in ${result.seconds.toFixed(1)} s\n`);
    }
  } finally {
    await pg.stop();
  }

  const totalSeconds = (performance.now() - started) / 1000;
  process.stdout.write(`\n${renderTable(results, args.quick)}\n\n${renderNotes(results)}\n\ntotal ${totalSeconds.toFixed(0)} s\n`);

  const date = new Date().toISOString().slice(0, 10);
  // Only a full run of every scenario gets the plain <date>.json that is committed;
  // quick and partial runs get their own (git-ignored) names so they never overwrite it.
  const suffix = (args.quick ? '-quick' : '') + (args.only ? `-only-${args.only.join('+')}` : '');
  const out = args.out ?? path.join('bench', 'results', `${date}${suffix}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify({ date: new Date().toISOString(), mode: args.quick ? 'quick' : 'full', totalSeconds, machine, scenarios: results }, null, 2) + '\n',
  );
  process.stdout.write(`results written to ${out}\n`);
  if (results.some((r) => r.error)) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
