'use strict';
// Longest test files first, so that no long file starts last and runs alone at the end.
// Jest orders by the durations it keeps in its cache; a fresh clone has none, and Jest would
// order by file size, which says little here (a short file may wait 30 s for a heartbeat).
// test/fileSeconds.json gives each file's seconds in a full run on a 2-core machine for that
// first run; `LUCKYGAS_RECORD_TEST_SECONDS=1 npm test` writes it again (a run of some files
// updates theirs only).
const fs = require('node:fs');
const path = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;

const ROOT = path.join(__dirname, '..', '..');
const FILE = path.join(ROOT, 'test', 'fileSeconds.json');
const known = fs.existsSync(FILE) ? JSON.parse(fs.readFileSync(FILE, 'utf8')) : {};
const relative = (p) => path.relative(ROOT, p).split(path.sep).join('/');

class LongestFirst extends Sequencer {
  time(test) {
    const seconds = known[relative(test.path)];
    return super.time(test) ?? (seconds === undefined ? undefined : seconds * 1000);
  }

  cacheResults(tests, results) {
    super.cacheResults(tests, results);
    if (process.env.LUCKYGAS_RECORD_TEST_SECONDS !== '1') return;
    // Merged into what the file holds: a run of some files updates theirs only.
    const seconds = { ...known };
    for (const r of results.testResults) seconds[relative(r.testFilePath)] = Math.max(1, Math.round((r.perfStats.end - r.perfStats.start) / 1000));
    const sorted = Object.fromEntries(Object.entries(seconds).sort(([a], [b]) => a.localeCompare(b)));
    fs.writeFileSync(FILE, `${JSON.stringify(sorted, null, 2)}\n`);
  }
}

module.exports = LongestFirst;
