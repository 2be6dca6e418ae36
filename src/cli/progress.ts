import type { WorkflowHandle } from '@temporalio/client';
import { Presets, SingleBar } from 'cli-progress';

export interface BarValues {
  value: number;
  total?: number;
  /** Values for the format's own tokens. */
  payload?: Record<string, unknown>;
}

/** How a workflow's `progress` query is drawn as a bar (cli-progress format and values). */
export interface ProgressBar<P, R> {
  format: string;
  total: number;
  /** Values for the format's own tokens until the first answer. */
  payload?: Record<string, unknown>;
  /** The bar's value (and new total, and payload for the format) from one answer of the query. */
  show(progress: P, seconds: number): BarValues;
  /** The bar's last values, from the workflow's result. */
  final?(result: R, seconds: number): BarValues;
}

/** A bar only for people: stderr is a terminal and no --json was asked for. */
export function wantsProgress(json: boolean | undefined): boolean {
  return !json && Boolean(process.stderr.isTTY);
}

/**
 * The workflow's result; meanwhile, with a bar, its `progress` query drawn on stderr once a
 * second. Without a bar, nothing is printed and nothing is queried.
 */
export async function followProgress<P, R>(handle: WorkflowHandle, bar: ProgressBar<P, R> | null): Promise<R> {
  if (!bar) return (await handle.result()) as R;
  const view = new SingleBar({ format: bar.format, etaBuffer: 20, hideCursor: true }, Presets.shades_classic);
  const started = Date.now();
  const draw = (v: BarValues) => {
    if (v.total !== undefined) view.setTotal(v.total);
    view.update(v.value, v.payload);
  };
  view.start(bar.total, 0, bar.payload);
  // One query at a time, and the last one settled before returning: the client retries a
  // query on a timer, and a retry after the connection closed would crash the process.
  let query: Promise<void> | undefined;
  const timer = setInterval(() => {
    query ??= handle
      .query<P>('progress')
      .then(
        (p) => draw(bar.show(p, (Date.now() - started) / 1000)),
        () => {
          /* before the workflow set its handler, or between continue-as-new runs, the query may miss */
        },
      )
      .finally(() => (query = undefined));
  }, 1000);
  try {
    const result = (await handle.result()) as R;
    if (bar.final) draw(bar.final(result, (Date.now() - started) / 1000));
    return result;
  } finally {
    clearInterval(timer);
    await query;
    view.stop();
  }
}
