import type { TriggersInput } from '../src/shared';
import { legacy } from './activities';

/** Installs or removes trigger-based change capture in the legacy file, through the legacy agent. */
export async function LegacyTriggersWorkflow(input: TriggersInput): Promise<string[]> {
  const tables = input.tables ?? [];
  return input.action === 'install' ? legacy.installTriggers({ tables }) : legacy.removeTriggers({ tables, dropQueue: input.dropQueue === true });
}
