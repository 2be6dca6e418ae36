import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { computeHealth, type HealthOptions } from './health';
import { createMetricsRegistry } from './metrics';
import type { TemporalProbe } from './temporal';
import type { Thresholds } from './thresholds';

/**
 * The monitor's HTTP endpoints, on plain node:http so the worker can embed it:
 *   GET /metrics  Prometheus text (text/plain; version=0.0.4)
 *   GET /health   the health report as JSON; 200 unless critical, then 503
 * Anything else is a 404 with a JSON body. The pool and the Temporal probe belong to the
 * caller: close() stops the server only.
 */

export interface MonitorOptions {
  pool: pg.Pool;
  /** 0 picks a free port; the one chosen is returned. */
  port: number;
  host?: string;
  thresholds: Thresholds;
  /** Configured table/direction pairs, checked even before their first run. */
  tables?: HealthOptions['tables'];
  /** Pollers per task queue in /metrics; without it /metrics says nothing about Temporal. */
  temporal?: TemporalProbe;
}

export interface RunningMonitor {
  port: number;
  host: string;
  close(): Promise<void>;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, head: boolean): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(head ? undefined : text);
}

export async function startMonitor(options: MonitorOptions): Promise<RunningMonitor> {
  const { pool, port, host = '0.0.0.0', thresholds, tables, temporal } = options;
  const registry = createMetricsRegistry(pool, thresholds, { tables, temporal });

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const head = method === 'HEAD';
    const path = (req.url ?? '/').split('?')[0];
    const handle = async () => {
      if ((method === 'GET' || head) && path === '/metrics') {
        const text = await registry.metrics();
        res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
        res.end(head ? undefined : text);
      } else if ((method === 'GET' || head) && path === '/health') {
        const report = await computeHealth(pool, thresholds, new Date(), { tables });
        sendJson(res, report.status === 'critical' ? 503 : 200, report, head);
      } else {
        sendJson(res, 404, { error: 'not found', method, path, endpoints: ['GET /metrics', 'GET /health'] }, head);
      }
    };
    handle().catch((err: Error) => {
      if (res.headersSent) res.destroy(err);
      else sendJson(res, 500, { error: err.message }, head);
    });
  });
  // A scrape is short; do not let idle keep-alive sockets hold close() up for long.
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;

  let closing: Promise<void> | null = null;
  return {
    port: address.port,
    host,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
