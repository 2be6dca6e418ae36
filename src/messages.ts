import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { ConflictResolution, ConflictReviewResult, Cursor, Progress, TableSyncState } from './shared';

/** The queries and updates the workflows answer, shared by the workflows and their callers. */

/** The progress of a table run (cycle child, backfill, retry), across continue-as-new. */
export const progressQuery = defineQuery<Progress & { phase: TableSyncState['phase']; cursor: Cursor; total: number | null }>('progress');

export const checkProgressQuery = defineQuery<{ phase: string; table: string | null; chunks: number; tablesDone: number; tables: number }>('progress');

export const rollbackProgressQuery = defineQuery<{ pages: number; restored: number; alreadyRestored: number; conflicts: number; rows: number }>('progress');

/** Resolves a manual conflict: the resolution goes through the pipeline to both sides. */
export const resolveConflictUpdate = defineUpdate<ConflictReviewResult, [ConflictResolution]>('resolve');
/** Later edits reached the row under review: the workflow's view is refreshed. */
export const reviewQuery = defineQuery<{ conflictId: number; state: 'open' | 'resolving' | 'resolved' }>('review');
