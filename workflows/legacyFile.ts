import { proxyActivities } from '@temporalio/workflow';
import type { LegacyActivities } from '../activities/legacy';
import { DEFAULT_LEGACY_QUEUE, type TriggersInput } from '../src/shared';
import { legacy } from './activities';

/** Work on the legacy file itself, through the legacy agent: change capture, and how the file looks. */

/** Installs or removes trigger-based change capture in the legacy file. */
export async function LegacyTriggersWorkflow(input: TriggersInput): Promise<string[]> {
  const tables = input.tables ?? [];
  return input.action === 'install' ? legacy.installTriggers({ tables }) : legacy.removeTriggers({ tables, dropQueue: input.dropQueue === true });
}

/** A quick look for `doctor`: an agent that does not answer within seconds is itself the finding. */
const look = proxyActivities<LegacyActivities>({ taskQueue: DEFAULT_LEGACY_QUEUE, scheduleToStartTimeout: '20 seconds', startToCloseTimeout: '30 seconds', retry: { maximumAttempts: 1 } });

/** The legacy file as the agent sees it: readable, with the contract's tables, and its journal mode. */
export async function DescribeLegacyWorkflow(): Promise<{ file: string; journalMode: string; bytes: number; worker: string }> {
  return look.describeLegacy();
}
