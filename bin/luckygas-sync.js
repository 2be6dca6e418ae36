#!/usr/bin/env node
'use strict';
// The package's command-line program; the TypeScript is compiled to dist/ by `npm run build`.
const path = require('node:path');
const fs = require('node:fs');
const main = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!fs.existsSync(main)) {
  process.stderr.write('luckygas-sync is not built yet: run `npm run setup` (or `npm run build`) first\n');
  process.exit(2);
}
require(main)
  .buildProgram(process.argv)
  .then((program) => program.parseAsync(process.argv))
  .catch((err) => {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(1);
  });
