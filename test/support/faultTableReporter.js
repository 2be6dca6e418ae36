const fs = require('node:fs');
const path = require('node:path');

/**
 * Prints the fault scenarios' outcomes as a table when the run ends (and writes it to
 * test-artifacts/fault-table.md). The scenarios append to the ledger as they finish.
 */
class FaultTableReporter {
  constructor(globalConfig) {
    this.dir = path.join(globalConfig.rootDir, 'test-artifacts');
    this.ledger = path.join(this.dir, 'fault-ledger.jsonl');
  }

  onRunStart() {
    fs.rmSync(this.ledger, { force: true });
  }

  onRunComplete() {
    if (!fs.existsSync(this.ledger)) return;
    const rows = fs
      .readFileSync(this.ledger, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    const table = [
      '| scenario | rows checked | lost | duplicated | held back | differences | seconds | result |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
      ...rows.map((r) => `| ${r.scenario} | ${r.rowsChecked} | ${r.lost} | ${r.duplicated} | ${r.heldBack} | ${r.differences} | ${r.seconds} | ${r.result} |`),
    ].join('\n');
    fs.writeFileSync(path.join(this.dir, 'fault-table.md'), `${table}\n`);
    process.stdout.write(`\nFault scenarios (each ends with the consistency check):\n\n${table}\n\n`);
  }
}

module.exports = FaultTableReporter;
