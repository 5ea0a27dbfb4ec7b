#!/usr/bin/env node
// Process entry: config -> logger -> the composition root (valori.ts: kernel, app, scheduler,
// replication, server) -> listen. Prints `Listening on HOST:PORT` when ready (the deployment
// guide's readiness line); SIGTERM/SIGINT stop everything in order, exit 0.
import { ConfigError, configHelp, loadConfig, type Config } from './config';
import { logConfiguration } from './config-report';
import { createLogger } from './log';
import { formatAddress } from './server';
import { openValori, RecoveryError, type Valori } from './valori';

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

  let valori: Valori;
  try {
    valori = await openValori(config, { logger });
  } catch (err) {
    // One clear line: a dim mismatch, mid-log corruption or an unreadable file stops the node.
    if (err instanceof RecoveryError) {
      process.stderr.write(`valori-node: cannot recover state: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }

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
