#!/usr/bin/env bash
# Records again the workflow histories that `npm run test:replay` replays (test/replay/histories),
# from real runs on the tests' local stack. Only after an intended change of a workflow's
# commands that is versioned (see docs/versioning.md): recording over the histories of the
# code before the change would hide what the change breaks for runs already started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx jest --config test/replay/record.config.js --runInBand "$@"
echo "record-histories: $(ls test/replay/histories/*.json | wc -l) histories in test/replay/histories; review the diff and commit them" >&2
