import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import pg from 'pg';
import { loadEnv } from '../../src/config/env';
import { generateLegacyDb } from '../../src/fixtures/legacyFixture';
import { connectClient } from '../../src/temporal/connection';
import { makeCertificates, type TestCertificates } from '../support/certificates';
import { count, startHarness, type SyncHarness } from '../support/syncHarness';

/**
 * The sync over TLS to all three services, as a production deployment runs it: PostgreSQL with
 * sslmode=verify-full, Redis over rediss:// only (its plain port closed), Temporal with a client
 * certificate (mTLS, through a TLS front that requires one, as a TLS-terminating proxy or
 * Temporal Cloud does). Each certificate is checked against the test's own CA.
 */

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });

async function waitForTls(port: number, ca: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(ca), servername: 'localhost' }, () => (s.end(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing answers TLS on port ${port}`);
}

describe('TLS to PostgreSQL, Redis and Temporal', () => {
  let certs: TestCertificates;
  let admin: pg.Client;
  let redis: ChildProcess;
  let redisPort: number;
  let front: tls.Server;
  let frontPort: number;
  const clientsSeen: (string | null)[] = [];
  let h: SyncHarness;

  beforeAll(async () => {
    certs = makeCertificates();

    // PostgreSQL: TLS switched on in the running test server (a reload, no restart).
    const adminUrl = new URL(process.env.TEST_DATABASE_URL!);
    adminUrl.pathname = '/postgres'; // not the template database the harness clones
    admin = new pg.Client({ connectionString: adminUrl.toString() });
    await admin.connect();
    const dataDir = (await admin.query('SHOW data_directory')).rows[0].data_directory as string;
    const owner = statSync(dataDir);
    for (const f of [certs.serverCert, certs.serverKey]) chownSync(f, owner.uid, owner.gid);
    chmodSync(certs.serverKey, 0o600);
    await admin.query(`ALTER SYSTEM SET ssl_cert_file = ${admin.escapeLiteral(certs.serverCert)}`);
    await admin.query(`ALTER SYSTEM SET ssl_key_file = ${admin.escapeLiteral(certs.serverKey)}`);
    await admin.query('ALTER SYSTEM SET ssl = on');
    await admin.query('SELECT pg_reload_conf()');
    await new Promise((r) => setTimeout(r, 500));

    // Redis: TLS only.
    redisPort = await freePort();
    redis = spawn('redis-server', [
      '--port', '0', '--tls-port', String(redisPort), '--bind', '127.0.0.1',
      '--tls-cert-file', certs.serverCert, '--tls-key-file', certs.serverKey, '--tls-ca-cert-file', certs.ca,
      '--tls-auth-clients', 'no', '--save', '', '--appendonly', 'no', '--dir', certs.dir,
    ], { stdio: 'ignore' });
    await waitForTls(redisPort, certs.ca);

    // Temporal: a front that requires a client certificate signed by the CA, forwarding to the test server.
    const [temporalHost, temporalPort] = process.env.TEST_TEMPORAL_ADDRESS!.split(':');
    front = tls.createServer(
      { key: readFileSync(certs.serverKey), cert: readFileSync(certs.serverCert), ca: readFileSync(certs.ca), requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'] },
      (socket) => {
        clientsSeen.push(socket.authorized ? (socket.getPeerCertificate().subject.CN as string) : null);
        const upstream = net.connect(Number(temporalPort), temporalHost);
        socket.pipe(upstream).pipe(socket);
        socket.on('error', () => upstream.destroy());
        upstream.on('error', () => socket.destroy());
      },
    );
    frontPort = await freePort();
    await new Promise<void>((resolve) => front.listen(frontPort, '127.0.0.1', resolve));

    h = await startHarness({
      databaseUrl: (url) => `${url}?sslmode=verify-full&sslrootcert=${encodeURIComponent(certs.ca)}`,
      env: {
        REDIS_URL: `rediss://127.0.0.1:${redisPort}`,
        REDIS_TLS_CA: certs.ca,
        TEMPORAL_ADDRESS: `127.0.0.1:${frontPort}`,
        TEMPORAL_TLS_CERT: certs.clientCert,
        TEMPORAL_TLS_KEY: certs.clientKey,
        TEMPORAL_TLS_CA: certs.ca,
        TEMPORAL_TLS_SERVER_NAME: 'localhost',
      },
    });
    generateLegacyDb({ path: h.legacyPath, seed: 71, clients: 30, drivers: 3, deliveries: 500 });
  });

  afterAll(async () => {
    await h?.close();
    front?.close();
    redis?.kill();
    if (admin) {
      for (const s of ['ssl', 'ssl_cert_file', 'ssl_key_file']) await admin.query(`ALTER SYSTEM RESET ${s}`);
      await admin.query('SELECT pg_reload_conf()');
      await admin.end();
    }
  });

  it('runs a whole cycle over TLS, every PostgreSQL connection encrypted, the worker known by its certificate', async () => {
    await h.runCycle();
    expect(await count(h.pool, 'SELECT count(*) FROM orders')).toBe(500);
    const conns = await h.pool.query(
      `SELECT s.ssl, count(*)::int AS n FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
        WHERE a.datname = current_database() AND a.backend_type = 'client backend' GROUP BY 1`,
    );
    expect(conns.rows).toEqual([{ ssl: true, n: expect.any(Number) }]);
    expect(clientsSeen.length).toBeGreaterThan(0);
    expect(new Set(clientsSeen)).toEqual(new Set(['luckygas-sync worker']));
  });

  it('refuses a PostgreSQL server whose certificate it cannot verify', async () => {
    const url = new URL(h.env.DATABASE_URL);
    url.searchParams.delete('sslrootcert');
    const client = new pg.Client({ connectionString: url.toString() });
    await expect(client.connect()).rejects.toThrow(/unable to verify the first certificate|self[- ]signed certificate/);
  });

  it('cannot reach Temporal without the client certificate', async () => {
    const env = loadEnv({ ...process.env, DATABASE_URL: h.env.DATABASE_URL, REDIS_URL: h.env.REDIS_URL, TEMPORAL_ADDRESS: `127.0.0.1:${frontPort}`, TEMPORAL_TLS_CA: certs.ca, TEMPORAL_TLS_SERVER_NAME: 'localhost' });
    await expect(connectClient(env)).rejects.toThrow(/cannot reach Temporal at 127\.0\.0\.1:/);
  });

  it('names a certificate file that is not there, and a certificate without its key', () => {
    const base = { DATABASE_URL: h.env.DATABASE_URL, REDIS_URL: h.env.REDIS_URL, TEMPORAL_ADDRESS: h.env.TEMPORAL_ADDRESS };
    expect(() => loadEnv({ ...base, TEMPORAL_TLS_CERT: '/nonexistent/client.pem', TEMPORAL_TLS_KEY: certs.clientKey })).toThrow(/TEMPORAL_TLS_CERT: no such file/);
    expect(() => loadEnv({ ...base, TEMPORAL_TLS_CERT: certs.clientCert })).toThrow(/set both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY, or neither/);
    expect(() => loadEnv({ ...base, REDIS_TLS_CA: `${certs.dir}/missing-ca.pem` })).toThrow(/REDIS_TLS_CA: no such file/);
  });
});
