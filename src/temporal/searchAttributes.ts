import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Custom search attributes on sync runs: the Web UI filters runs by them. */
export const SyncTable = defineSearchAttributeKey('SyncTable', SearchAttributeType.KEYWORD);
export const SyncDirection = defineSearchAttributeKey('SyncDirection', SearchAttributeType.KEYWORD);
export const SyncRows = defineSearchAttributeKey('SyncRows', SearchAttributeType.INT);
export const SyncOutcome = defineSearchAttributeKey('SyncOutcome', SearchAttributeType.KEYWORD);

/** Names and types as the temporal CLI spells them, for registration. */
export const SEARCH_ATTRIBUTES: Record<string, string> = {
  SyncTable: 'Keyword',
  SyncDirection: 'Keyword',
  SyncRows: 'Int',
  SyncOutcome: 'Keyword',
};
