// Bundles the compiled workflows once at build time, so a worker starts without webpack
// (faster, and some 100 MB less memory than bundling in every worker process).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { bundleWorkflowCode } = require('@temporalio/worker');

const dist = path.join(__dirname, '..', 'dist');
const MAP = '//# sourceMappingURL=data:';

/**
 * The bundle's inline source map maps lines, not columns (webpack's cheap-module map), and
 * without the sources' text: stack traces still name the original files and lines. A worker
 * holds the bundle and its parsed map on its main thread and again on its workflow thread,
 * whose SDK parses the map's mappings when it first maps a stack: 10,000 of them instead of
 * 49,000, some 4-6 MB less after that (measured); the bundle 1.85 → 0.67 MB.
 */
function withoutSourcesContent(code) {
  const at = code.lastIndexOf(MAP);
  if (at < 0) return code;
  const data = code.indexOf('base64,', at) + 'base64,'.length;
  const map = JSON.parse(Buffer.from(code.slice(data).trimEnd(), 'base64').toString());
  delete map.sourcesContent;
  return code.slice(0, data) + Buffer.from(JSON.stringify(map)).toString('base64');
}

bundleWorkflowCode({ workflowsPath: require.resolve(path.join(dist, 'workflows')), workflowInterceptorModules: [require.resolve(path.join(dist, 'workflows', 'interceptors'))], logger: { log() {}, info() {}, warn() {}, error: console.error, debug() {}, trace() {} }, webpackConfigHook: (config) => ({ ...config, devtool: 'inline-cheap-module-source-map' }) })
  .then(({ code }) => fs.writeFileSync(path.join(dist, 'workflow-bundle.js'), withoutSourcesContent(code)))
  .catch((err) => {
    console.error(`bundling the workflows failed: ${err.message}`);
    process.exit(1);
  });
