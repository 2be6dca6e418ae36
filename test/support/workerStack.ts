import { currentWorker, ENDPOINT_VARIABLES, workerVariable } from './testStack';

// Each test file talks to its own Jest worker's stack (test/support/globalSetup.ts).
for (const name of ENDPOINT_VARIABLES) process.env[name] = process.env[workerVariable(name, currentWorker())];
