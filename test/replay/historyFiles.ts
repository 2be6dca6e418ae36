import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';

type History = proto.temporal.api.history.v1.IHistory;

/**
 * History ⇄ proto JSON with the protobufjs that @temporalio/proto itself uses. The SDK's own
 * helpers (historyToJSON/historyFromJSON in @temporalio/common) fail in this install: npm gave
 * @temporalio/common a second copy of protobufjs, whose JSON codec refuses the message types of
 * the first ("type must be a Type"). The format is the same: proto3 JSON, as the temporal CLI prints it.
 */
const protobufjs = path.dirname(require.resolve('protobufjs/package.json', { paths: [path.dirname(require.resolve('@temporalio/proto'))] }));
const protojson = require(path.join(protobufjs, 'ext', 'protojson')) as {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options: { ignoreUnknownFields: boolean }): History;
};
const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType('temporal.api.history.v1.History');
const historyToJSON = (h: History) => protojson.toJson(historyType, proto.temporal.api.history.v1.History.fromObject(h)) as { events: unknown[] };
// Fields a newer server or SDK adds are ignored, as the SDK's reader does.
const historyFromJSON = (json: unknown) => protojson.fromJson(historyType, json, { ignoreUnknownFields: true });

/** Histories of real runs, recorded by `npm run record-histories`, replayed by `npm run test:replay`. */
export const HISTORY_DIR = path.join(__dirname, 'histories');

export interface RecordedHistory {
  file: string;
  workflowType: string;
  workflowId: string;
  history: History;
}

/**
 * Writes a history as `temporal workflow show --output json` prints it, one event per line
 * (a smaller file than the CLI's indented output, and a diff shows which events changed).
 */
export function writeHistory(file: string, history: History): string {
  const { events } = historyToJSON(history);
  const target = path.join(HISTORY_DIR, file);
  writeFileSync(target, `{"events": [\n${events.map((e) => JSON.stringify(e)).join(',\n')}\n]}\n`);
  return target;
}

export function readHistories(): RecordedHistory[] {
  return readdirSync(HISTORY_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const history = historyFromJSON(JSON.parse(readFileSync(path.join(HISTORY_DIR, file), 'utf8')));
      const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
      if (!started?.workflowType?.name) throw new Error(`${file}: its first event is not a workflow execution start`);
      // The workflow code derives ids from its own (children, run records): replay needs the real one.
      if (!started.workflowId) throw new Error(`${file}: its start event does not name the workflow id`);
      return { file, workflowType: started.workflowType.name, workflowId: started.workflowId, history };
    });
}
