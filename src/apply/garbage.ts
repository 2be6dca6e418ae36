import v8 from 'node:v8';
import vm from 'node:vm';

type Gc = (options?: { type: 'minor' }) => void;

let gc: Gc | null = null;

/**
 * A collection of this thread's heap, now: its young generation (`minor`) or all of it (`full`). A load
 * calls it where it knows that memory has just become garbage which V8 would otherwise keep
 * for long (bulkLoad.ts, loadThreads.ts). The `gc` function is had once per thread from a
 * context made while V8 exposes it, which it does only for that moment (no other context, a
 * workflow's included, gets one).
 */
export function collectGarbage(type: 'minor' | 'full'): void {
  if (!gc) {
    // Node started with --expose-gc has one already, and keeps exposing it.
    gc = (globalThis as { gc?: Gc }).gc ?? null;
    if (!gc) {
      v8.setFlagsFromString('--expose-gc');
      gc = vm.runInNewContext('gc') as Gc;
      v8.setFlagsFromString('--no-expose-gc');
    }
  }
  // A full collection is the call without options, which also gives freed memory back: in a page
  // thread, { type: 'major' } left a 200k-key map let go of in its heap (20 MB, measured).
  if (type === 'minor') gc({ type });
  else gc();
}
