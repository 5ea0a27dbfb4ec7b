#!/usr/bin/env node
// Process entry: config -> logger -> a recovering responder on the socket -> the kernel's recovery
// (off the event loop) -> the composition root (valori.ts: app, scheduler, replication, server),
// loaded while the kernel recovers -> listen. While the kernel recovers
// (off the event loop), the port answers /health 503 "recovering" (src/http/recovering.ts) and logs
// `Recovering on HOST:PORT`; then the app takes the same port over and the deployment guide's
// readiness line `Listening on HOST:PORT` follows. SIGTERM/SIGINT stop everything in order, exit 0.
import { clusterSettings, ConfigError, configHelp, loadConfig, type Config } from './config';
import { logConfiguration } from './config-report';
import { recoveringListener } from './http/recovering';
import { Kernel } from './kernel/kernel';
import { createLogger, LOG_IDENTITY } from './log';
import { createHttpServer, formatAddress, serverLimits } from './server';
import type { Valori } from './valori';

// How long a shutdown may wait for in-flight requests before the process exits anyway.
const SHUTDOWN_GRACE_MS = 10_000;

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(configHelp());
    return;
  }
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }

  const logger = createLogger({ level: config.logLevel, format: config.logFormat });
  // Secrets redacted; unknown VALORI_* names (likely typos) warned about, as `valori-node check` does.
  logConfiguration(logger, config, process.env);

  // The socket opens before recovery, so probes get an answer during a long replay. Port 0 is
  // resolved here once, and the app listens on the same port afterwards.
  const recovering = createHttpServer(recoveringListener(LOG_IDENTITY.version, Date.now()), config.bind, serverLimits(config));
  let port: number;
  try {
    port = (await recovering.start()).port;
  } catch (err) {
    logger.error(`cannot listen on ${formatAddress(config.bind.host, config.bind.port)}: ${(err as Error).message}`);
    process.exit(1);
  }
  logger.info(`Recovering on ${formatAddress(config.bind.host, port)}: /health answers 503 "recovering" until the state is loaded`);

  // Recovery starts now, on the worker pool, while this thread loads the app's modules (Express,
  // the routes, the schema validators: a few hundred ms that would otherwise come first).
  // A cluster member opens its Raft log there instead (openValori, src/cluster/node.ts).
  const opening = clusterSettings(config) === null ? Kernel.open(config) : null;
  opening?.catch(() => undefined); // handled below, by openValori
  const { openValori, RecoveryError } = require('./valori') as typeof import('./valori');
  let valori: Valori;
  try {
    valori = await openValori({ ...config, bind: { ...config.bind, port } }, { logger, openKernel: opening === null ? undefined : () => opening });
  } catch (err) {
    // One clear line: a dim mismatch, mid-log corruption or an unreadable file stops the node.
    if (err instanceof RecoveryError) {
      process.stderr.write(`valori-node: cannot recover state: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  // Every recovering answer closes its connection, so this returns at once; the app listens next.
  await recovering.stop();

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal} received, shutting down`);
    setTimeout(() => {
      logger.warn('shutdown grace period elapsed, exiting with requests still open');
      process.exit(0);
    }, SHUTDOWN_GRACE_MS).unref();
    // The order (replication, server, final snapshot, kernel) is the composition root's (valori.ts).
    valori.stop().then(
      () => {
        logger.info('shutdown complete');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error('error while closing the server', { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  try {
    // Logs the readiness line `Listening on HOST:PORT`, then starts replication.
    await valori.start();
  } catch (err) {
    logger.error(`cannot listen on ${formatAddress(config.bind.host, config.bind.port)}: ${(err as Error).message}`);
    process.exit(1);
  }
}

/** Starts the node; `node dist/main.js` runs it directly and the valori-node CLI (cli.ts) calls it. */
export function start(): void {
  main().catch((err: unknown) => {
    process.stderr.write(`fatal: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

// Only when run as the entry point, not when cli.ts imports this module.
if (require.main === module) start();
