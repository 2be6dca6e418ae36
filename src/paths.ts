import path from 'node:path';

/** Root of the checkout, from src/ or from the compiled dist/src/. */
export const PROJECT_ROOT = path.resolve(__dirname, __dirname.split(path.sep).includes('dist') ? '../..' : '..');

/** Files the product reads at run time. */
export const CONFIG_DIR = path.join(PROJECT_ROOT, 'config');
