import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { percentile, round } from './measure';

/**
 * Where the time of a workflow went, from its Temporal history: per activity type, how long
 * the activities ran (started → completed) and waited for a worker (scheduled → started),
 * and on which side (the core workers' task queue, the legacy agent's, or local: run by the
 * worker in the workflow task, recorded as markers); workflow tasks; and what is left of the
 * wall time (Temporal round trips between steps). Follows continue-as-new chains and child
 * workflows.
 */

const E = temporal.api.enums.v1.EventType;

type Ts = { seconds?: unknown; nanos?: number | null } | null | undefined;
const ms = (t: Ts): number => (t ? Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6 : 0);

const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

/**
 * A local activity's type and run time from its marker (the SDK core's JSON of
 * LocalActivityMarkerData, the one payload of its `data` detail). Its times come from the
 * worker; a run time that comes out negative (the schedule time noted after the completion)
 * counts as 0: the time is within the workflow task's anyway.
 */
function localActivity(details: Record<string, { payloads?: { data?: Uint8Array | null }[] | null }> | null | undefined): { type: string; runMs: number } | null {
  const data = details?.data?.payloads?.[0]?.data;
  if (!data) return null;
  try {
    const m = JSON.parse(Buffer.from(data).toString('utf8')) as Record<string, unknown>;
    const type = String(m.activity_type ?? m.activityType ?? '?');
    const at = (v: unknown) => (typeof v === 'string' ? Date.parse(v) : v && typeof v === 'object' ? ms(v as Ts) : NaN);
    const runMs = at(m.complete_time ?? m.completeTime) - at(m.original_schedule_time ?? m.originalScheduleTime);
    return { type, runMs: Number.isFinite(runMs) ? Math.max(0, runMs) : 0 };
  } catch {
    return null;
  }
}

export interface ActivityStats {
  /** core, legacy (the legacy agent's task queue) or local (a local activity). */
  side: 'core' | 'legacy' | 'local';
  count: number;
  /** Started → completed, summed. */
  runMs: number;
  meanRunMs: number;
  p95RunMs: number | null;
  /** Scheduled → started (waiting for a worker slot or a poll), summed. */
  queueMs: number;
  retries: number;
}

export interface Breakdown {
  /** Workflow runs looked at (continue-as-new runs and children included). */
  runs: number;
  /** Sum of the runs' wall times (first to last event), ms. */
  wallMs: number;
  activities: Record<string, ActivityStats>;
  activityRunMs: number;
  activityQueueMs: number;
  workflowTasks: { count: number; totalMs: number; meanMs: number };
  /**
   * For a run that does one thing at a time (a table sync), wall time not covered by its own
   * activities or its children: the workflow-task round trips between one step and the next.
   */
  betweenStepsMs: number;
  children: { workflowId: string; type: string; wallMs: number }[];
}

/** An activity type's runs on one side (a type run both as an activity and as a local activity has two). */
interface Step {
  side: ActivityStats['side'];
  type: string;
  runs: number[];
  queueMs: number;
  retries: number;
}

interface Acc {
  runs: number;
  wallMs: number;
  /** By side and type. */
  steps: Map<string, Step>;
  wfTasks: number[];
  betweenMs: number;
  children: { workflowId: string; type: string; wallMs: number }[];
}

function stepOf(acc: Acc, side: Step['side'], type: string): Step {
  const key = `${side} ${type}`;
  let step = acc.steps.get(key);
  if (!step) acc.steps.set(key, (step = { side, type, runs: [], queueMs: 0, retries: 0 }));
  return step;
}

async function walk(client: Client, workflowId: string, runId: string | undefined, acc: Acc, depth: number, legacyQueue: (name: string) => boolean): Promise<void> {
  let next: string | undefined = runId;
  let first = true;
  while (first || next) {
    first = false;
    const history = await client.workflow.getHandle(workflowId, next).fetchHistory();
    next = undefined;
    const events = history.events ?? [];
    if (events.length === 0) return;
    const start = ms(events[0].eventTime as Ts);
    const end = ms(events[events.length - 1].eventTime as Ts);
    const wall = end - start;
    acc.runs++;
    acc.wallMs += wall;
    const type = events[0].workflowExecutionStartedEventAttributes?.workflowType?.name ?? '?';
    if (depth > 0) acc.children.push({ workflowId, type, wallMs: round(wall) });

    const scheduled = new Map<number, { step: Step; at: number }>();
    const started = new Map<number, number>();
    const wfScheduled = new Map<number, number>();
    const childRuns: { workflowId: string; runId: string }[] = [];
    // Covered spans (activities and children): what is left of the wall time is in between.
    let covered = 0;
    const childInitiated = new Map<number, number>();
    for (const e of events) {
      const at = ms(e.eventTime as Ts);
      const id = Number(e.eventId);
      switch (e.eventType) {
        case E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: {
          const a = e.activityTaskScheduledEventAttributes;
          const type = a?.activityType?.name ?? '?';
          scheduled.set(id, { step: stepOf(acc, legacyQueue(a?.taskQueue?.name ?? '') ? 'legacy' : 'core', type), at });
          break;
        }
        case E.EVENT_TYPE_MARKER_RECORDED: {
          const a = e.markerRecordedEventAttributes;
          const la = a?.markerName === LOCAL_ACTIVITY_MARKER ? localActivity(a.details as Record<string, { payloads?: { data?: Uint8Array | null }[] | null }>) : null;
          if (la) {
            stepOf(acc, 'local', la.type).runs.push(la.runMs);
            covered += la.runMs;
          }
          break;
        }
        case E.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
          const a = e.activityTaskStartedEventAttributes!;
          started.set(Number(a.scheduledEventId), at);
          const s = scheduled.get(Number(a.scheduledEventId));
          if (s && (a.attempt ?? 1) > 1) s.step.retries += a.attempt! - 1;
          break;
        }
        case E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
        case E.EVENT_TYPE_ACTIVITY_TASK_FAILED:
        case E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: {
          const a = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
          const sid = Number(a?.scheduledEventId);
          const s = scheduled.get(sid);
          const st = started.get(sid) ?? s?.at ?? at;
          if (s) {
            s.step.runs.push(at - st);
            s.step.queueMs += st - s.at;
            covered += at - s.at;
          }
          break;
        }
        case E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
          wfScheduled.set(id, at);
          break;
        case E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: {
          const sid = Number(e.workflowTaskCompletedEventAttributes?.scheduledEventId);
          const s = wfScheduled.get(sid);
          if (s !== undefined) acc.wfTasks.push(at - s);
          break;
        }
        case E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
          childInitiated.set(id, at);
          break;
        case E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED: {
          const x = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
          if (x?.workflowId && x.runId) childRuns.push({ workflowId: x.workflowId, runId: x.runId });
          break;
        }
        case E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
        case E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED: {
          const a = e.childWorkflowExecutionCompletedEventAttributes ?? e.childWorkflowExecutionFailedEventAttributes;
          const init = childInitiated.get(Number(a?.initiatedEventId));
          if (init !== undefined) covered += at - init;
          break;
        }
        case E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
          next = e.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
          break;
        default:
          break;
      }
    }
    // Only meaningful for runs that do one step at a time; the cycle's parallel children overlap.
    if (childRuns.length === 0) acc.betweenMs += Math.max(0, wall - covered);
    for (const c of childRuns) await walk(client, c.workflowId, c.runId, acc, depth + 1, legacyQueue);
  }
}

/** The breakdown of the given workflows (each followed through continue-as-new and children); `legacyQueue` names the legacy agent's task queue. */
export async function breakdown(client: Client, workflows: { workflowId: string; runId?: string }[], legacyQueue: string): Promise<Breakdown> {
  const acc: Acc = { runs: 0, wallMs: 0, steps: new Map(), wfTasks: [], betweenMs: 0, children: [] };
  for (const w of workflows) await walk(client, w.workflowId, w.runId, acc, 0, (q) => q === legacyQueue);
  const activities: Record<string, ActivityStats> = {};
  let runTotal = 0;
  let queueTotal = 0;
  // Only steps that ran to an end: an activity still running is not listed.
  const steps = [...acc.steps.values()].filter((s) => s.runs.length > 0);
  for (const { side, type, runs, queueMs, retries } of steps) {
    const total = runs.reduce((a, b) => a + b, 0);
    runTotal += total;
    queueTotal += queueMs;
    // A step run both ways (a page applied as an activity, the last one as a local activity): a row each.
    const bothWays = steps.filter((s) => s.type === type).length > 1;
    activities[bothWays && side === 'local' ? `${type} (local)` : type] = {
      side,
      count: runs.length,
      runMs: round(total),
      meanRunMs: round(total / runs.length, 1),
      p95RunMs: round(percentile(runs, 95) ?? 0, 1),
      queueMs: round(queueMs),
      retries,
    };
  }
  const wf = acc.wfTasks.reduce((a, b) => a + b, 0);
  return {
    runs: acc.runs,
    wallMs: round(acc.wallMs),
    activities,
    activityRunMs: round(runTotal),
    activityQueueMs: round(queueTotal),
    workflowTasks: { count: acc.wfTasks.length, totalMs: round(wf), meanMs: acc.wfTasks.length ? round(wf / acc.wfTasks.length, 1) : 0 },
    betweenStepsMs: round(acc.betweenMs),
    children: acc.children,
  };
}
