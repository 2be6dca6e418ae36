import type { Command } from 'commander';
import { WorkflowFailedError } from '@temporalio/client';
import { loadEnv } from '../../config/env';
import { loadSyncConfig } from '../../config/tables';
import { checkClocks, checkPostgres, checkRedis, checkTemporal, temporalNow, type Finding } from '../../doctor';
import { ids } from '../../shared';
import { rootMessage } from '../../temporal/failures';
import { DescribeLegacyWorkflow } from '../../../workflows';
import { connectForWork, runOneOff } from '../oneOffWorkflow';
import { action, EXIT, printJson } from '../output';

/** The legacy file as the legacy agent sees it (or, with no agent polling, as this host does). */
async function checkLegacy(env: ReturnType<typeof loadEnv>): Promise<Finding> {
  try {
    const d = await runOneOff('look at the legacy file', env, async ({ start }) =>
      (await start(DescribeLegacyWorkflow, { workflowId: ids.legacyFile('describe', new Date().toISOString()), args: [], summary: 'doctor: the legacy file' })).result(),
    );
    return { check: 'legacy file', ok: true, detail: `${d.file}: readable, the contract's tables, journal mode ${d.journalMode}, ${(d.bytes / 1e6).toFixed(1)} MB (seen by ${d.worker})` };
  } catch (err) {
    const why = err instanceof WorkflowFailedError ? rootMessage(err) : (err as Error).message;
    return { check: 'legacy file', ok: false, detail: why.replace(/^the look at the legacy file failed: /, ''), fix: 'correct LEGACY_DB_PATH (as the legacy agent knows it), or run the legacy agent beside the file' };
  }
}

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('check the installation end to end (legacy file, PostgreSQL and its migrations, Redis, Temporal, workers and their targets, the schedule, clocks) and say what to fix; exit 1 when something is wrong')
    .option('--json', 'print the findings as JSON')
    .action(
      action(async (opts: { json?: boolean }) => {
        const env = loadEnv();
        const findings: Finding[] = [];
        try {
          const config = loadSyncConfig(env.SYNC_TABLES_CONFIG);
          findings.push({ check: 'configuration', ok: true, detail: `${env.SYNC_TABLES_CONFIG}: ${config.tables.map((t) => `${t.legacyTable} (${t.changeDetection})`).join(', ')}` });
        } catch (err) {
          findings.push({ check: 'configuration', ok: false, detail: (err as Error).message, fix: 'correct the table configuration' });
        }
        const postgres = await checkPostgres(env);
        findings.push(...postgres.findings);
        findings.push(await checkRedis(env));
        let temporalClock: Date | null = null;
        const host = new Date();
        try {
          const client = await connectForWork(env);
          try {
            findings.push(...(await checkTemporal(client, env)));
            temporalClock = await temporalNow(client);
          } finally {
            await client.connection.close();
          }
          // After the worker check: looking at the file runs a worker here for a queue nobody serves.
          findings.push(await checkLegacy(env));
        } catch (err) {
          findings.push({ check: 'temporal', ok: false, detail: (err as Error).message, fix: 'start Temporal, or correct TEMPORAL_ADDRESS (and its TLS settings)' });
        }
        findings.push(checkClocks(host, postgres.now, temporalClock));

        const problems = findings.filter((f) => !f.ok);
        if (opts.json) printJson({ ok: problems.length === 0, findings });
        else {
          for (const f of findings) process.stdout.write(`${f.ok ? 'ok  ' : 'FAIL'}  ${f.check}: ${f.detail}${f.fix && !f.ok ? `\n      → ${f.fix}` : f.fix ? ` (${f.fix})` : ''}\n`);
          process.stdout.write(problems.length === 0 ? '\nno problem found\n' : `\n${problems.length} problem(s)\n`);
        }
        if (problems.length > 0) process.exitCode = EXIT.failed;
      }),
    );
}
