#!/usr/bin/env node
// Process entry: config -> logger -> kernel -> app -> listen. Prints `Listening on HOST:PORT`
// when ready (the deployment guide's readiness line); SIGTERM/SIGINT close the server, exit 0.
import { createApp } from './app';
import { ConfigError, configHelp, loadConfig, type Config } from './config';
import { Kernel } from './kernel/kernel';
import { createLogger } from './log';
import { createMetrics } from './metrics';
import { createHttpServer, formatAddress, serverLimits } from './server';
import { startSnapshotScheduler } from './jobs/snapshots';
import { Replication } from './replication/runtime';

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

  let kernel: Kernel;
  try {
    kernel = await Kernel.open(config);
  } catch (err) {
    // One clear line: a dim mismatch, mid-log corruption or an unreadable file stops the node.
    process.stderr.write(`valori-node: cannot recover state: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const recovery = kernel.recovery();
  for (const w of recovery.warnings) logger.warn(`recovery: ${w}`);
  for (const e of recovery.errors) logger.error(`recovery: ${e}`);
  const stats = kernel.stats();
  logger.info(
    `recovered from ${recovery.source}: height ${recovery.height}` +
      (recovery.snapshotHeight != null ? `, snapshot at ${recovery.snapshotHeight}` : '') +
      `, ${recovery.replayed} events replayed in ${recovery.seconds.toFixed(3)} s (persistence: ${stats.persistence}, records: ${stats.records.live})`,
  );
  const metrics = createMetrics(() => kernel.stats());
  metrics.observeReplay(recovery.seconds);
  kernel.onCommit((seconds) => metrics.observeCommit(seconds));
  const snapshots = startSnapshotScheduler(kernel, config.snapshotPath === null ? null : config.snapshotIntervalSecs, logger, metrics);
  // Proof ring, leader event streams and, with VALORI_FOLLOWER_OF, the follower loop.
  const replication = new Replication({ config, kernel, logger, metrics });
  const app = createApp({ config, kernel, logger, metrics, replication });
  const server = createHttpServer(app, config.bind, serverLimits(config));

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal} received, shutting down`);
    setTimeout(() => {
      logger.warn('shutdown grace period elapsed, exiting with requests still open');
      process.exit(0);
    }, SHUTDOWN_GRACE_MS).unref();
    // Replication first: open event streams end (so the server can close), and the follower
    // stops streaming and lets its in-flight applies commit before the kernel closes.
    replication
      .stop()
      .then(() => server.stop())
      .then(async () => {
        // After the socket: in-flight requests have been answered. Then an optional final
        // snapshot (bounds the next start-up's replay), then queued writes drain and the log closes.
        await snapshots.stop();
        if (config.snapshotPath !== null && config.snapshotOnShutdown) await snapshots.runNow('shutdown');
        kernel.close();
      })
      .then(
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
    const address = await server.start();
    logger.info(`Listening on ${formatAddress(config.bind.host, address.port)}`);
    // After listening, so /v1/replication/state already answers while the follower connects.
    replication.start();
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
