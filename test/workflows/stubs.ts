import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { BatchResult, Cursor, RunSummary, TableSyncPlan } from '../../src/shared';
import type { CoreStubs, LegacyStubs } from '../support/workflowEnv';
import type { TestWorkflowEnvironment } from '@temporalio/testing';

/**
 * Stub activities over a legacy table held in memory: the legacy agent's reads put row ids in
 * "claims" (as the real ones put rows in Redis), applyBatch takes them out. Each call is
 * noted, so a test can tell what ran, in which order and in which run of the workflow.
 */

export interface Row {
  id: number;
  ts: string;
}

/** A legacy table: ids 1..n, each row's updated_at after the previous one's. */
export class FakeTable {
  rows: Row[] = [];
  constructor(n: number) {
    this.add(n);
  }

  add(n: number): void {
    const from = this.rows.length + 1;
    for (let id = from; id < from + n; id++) this.rows.push({ id, ts: `2030-01-01 ${String(id).padStart(8, '0')}` });
  }

  /** As idPageEnds reads them: up to `pages` page ends after afterId, null for a page that runs to the end. */
  pageEnds(afterId: number, pageSize: number, pages: number): (number | null)[] {
    const ids = this.rows.map((r) => r.id).filter((id) => id > afterId);
    const ends: (number | null)[] = [];
    for (let k = pageSize - 1; ends.length < pages; k += pageSize) {
      if (k >= ids.length) {
        ends.push(null);
        break;
      }
      ends.push(ids[k]);
    }
    return ends;
  }

  idRange(afterId: number, toId: number | null, limit: number): number[] {
    return this.rows.filter((r) => r.id > afterId && (toId === null || r.id <= toId)).slice(0, limit).map((r) => r.id);
  }

  /** The timestamp page after a cursor. */
  after(cursor: Cursor, limit: number): Row[] {
    return this.rows.filter((r) => r.ts > (cursor.ts ?? '') || (r.ts === cursor.ts && r.id > cursor.id)).slice(0, limit);
  }
}

export const cursorOf = (r: Row): Cursor => ({ ts: r.ts, id: r.id });

export const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** A table run's plan, as beginDraft makes it, with the fields a test sets. */
export function planOf(p: Partial<TableSyncPlan>): TableSyncPlan {
  return {
    runId: 'table-sync/deliveries/legacy-to-new/sync-cycle/test',
    table: 'deliveries',
    direction: 'legacy-to-new',
    kind: 'table',
    mode: 'timestamp',
    cursor: { ts: '', id: 0 },
    batchSize: 10,
    load: null,
    catchup: false,
    pages: true,
    queues: [],
    first: null,
    ...p,
  };
}

export function batchResult(read: number, cursor: Cursor): BatchResult {
  return { read, written: read, deleted: 0, unchanged: 0, heldBack: 0, conflicts: 0, waiting: 0, cursor, replayed: false, reviews: [] };
}

export function summaryOf(runId: string, status: RunSummary['status'], reason?: string): RunSummary {
  const [, table = '', direction = ''] = runId.split('/');
  return { runId, table, direction, status, read: 0, written: 0, unchanged: 0, heldBack: 0, conflicts: 0, ms: 1, ...(reason ? { reason } : {}) };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Which run of the workflow an activity was called from (continue-as-new starts another). */
const callerRun = () => Context.current().info.workflowExecution?.runId ?? '';

export interface Applied {
  batchKey: string;
  ids: number[];
  runId: string;
}

/**
 * The activities of a table run over a FakeTable. Options: how long an apply takes (real
 * time, so that lanes and fetch-ahead overlap), claims that vanish before their apply, and a
 * hook each apply waits for.
 */
export function tableStubs(table: FakeTable, opts: { applyMs?: number; loseClaim?: (batchKey: string) => boolean; beforeApply?: (batchKey: string) => Promise<void> } = {}) {
  const claims = new Map<string, number[]>();
  const log: string[] = [];
  const applied: Applied[] = [];
  const calls: Record<string, unknown[]> = {};
  let inFlight = 0;
  let maxInFlight = 0;
  const note = (name: string, input: unknown) => (calls[name] ??= []).push(input);
  const batchNo = (key: string) => Number(key.split('#').at(-1));

  const legacy: LegacyStubs = {
    async captureTable(input) {
      note('captureTable', input);
      const ids = table.rows.map((r) => r.id);
      streams.set(input.stream, ids);
      return { pages: Math.ceil(ids.length / input.pageSize), rows: ids.length };
    },
    async pageEnds(input) {
      note('pageEnds', input);
      log.push(`pageEnds after ${input.afterId}`);
      return table.pageEnds(input.afterId, input.pageSize, input.pages);
    },
    async captureIdRange(input) {
      note('captureIdRange', input);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      log.push(`capture #${batchNo(input.batchKey)} start`);
      const ids = table.idRange(input.afterId, input.toId, input.pageSize);
      claims.set(input.batchKey, ids);
      return { count: ids.length, lastId: ids.at(-1) ?? input.toId ?? input.afterId };
    },
    async capturePage(input) {
      note('capturePage', input);
      log.push(`capture #${batchNo(input.batchKey)} start`);
      const rows = table.after(input.cursor, input.batchSize);
      claims.set(
        input.batchKey,
        rows.map((r) => r.id),
      );
      await sleep(5);
      log.push(`capture #${batchNo(input.batchKey)} end`);
      return { count: rows.length, next: rows.length > 0 ? cursorOf(rows.at(-1)!) : input.cursor, done: rows.length < input.batchSize };
    },
  };

  /** What captureTable streamed, per stream: the table's ids. */
  const streams = new Map<string, number[]>();

  const core: CoreStubs = {
    /** The load in one transaction: the ids its stream carried, once the stream has ended. */
    async loadTable(input) {
      note('loadTable', input);
      log.push(`loadTable ${input.stream}`);
      while (!streams.has(input.stream)) await sleep(5);
      const ids = streams.get(input.stream)!;
      applied.push({ batchKey: input.batchKey, ids, runId: callerRun() });
      return batchResult(ids.length, { ts: null, id: ids.at(-1) ?? 0 });
    },
    async applyBatch(input) {
      note('applyBatch', input);
      log.push(`apply #${batchNo(input.batchKey)} start`);
      try {
        if (opts.loseClaim?.(input.batchKey)) claims.delete(input.batchKey);
        const ids = claims.get(input.batchKey);
        if (!ids) throw ApplicationFailure.nonRetryable(`claim ${input.batchKey}:raw is gone`, 'ClaimMissing');
        await opts.beforeApply?.(input.batchKey);
        if (opts.applyMs) await sleep(opts.applyMs);
        claims.delete(input.batchKey);
        applied.push({ batchKey: input.batchKey, ids, runId: callerRun() });
        const last = table.rows.find((r) => r.id === ids.at(-1));
        log.push(`apply #${batchNo(input.batchKey)} end`);
        return batchResult(ids.length, input.reached ?? (last ? cursorOf(last) : (input.cursor ?? { ts: null, id: 0 })));
      } finally {
        if (input.reached) inFlight--;
      }
    },
    async moveWatermark(input) {
      note('moveWatermark', input);
    },
    async finishRun(input) {
      note('finishRun', input);
      return summaryOf(input.runId, input.status, input.error);
    },
  };

  return {
    core,
    legacy,
    log,
    calls,
    /** Every row id applied, in the order applied. */
    appliedIds: () => applied.flatMap((a) => a.ids),
    applied,
    maxInFlight: () => maxInFlight,
  };
}

/**
 * Bookkeeping steps are local activities: at least once, like any activity (a workflow task
 * that fails, as one completing the run does when another activity's result arrives meanwhile,
 * runs its local activities again). Their calls as a test compares them: each distinct call
 * once, in order.
 */
export const distinct = (calls: unknown[] | undefined): unknown[] | undefined => calls && [...new Map(calls.map((c) => [JSON.stringify(c), c])).values()];

/** The activities a run scheduled through task queues, by type, in order (local activities are markers, not listed). */
export async function scheduledActivities(env: TestWorkflowEnvironment, workflowId: string): Promise<string[]> {
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name ?? ''] : []));
}
