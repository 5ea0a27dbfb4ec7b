// The composition root: one running Valori server, from an open kernel to a listening socket.
// openValori opens the kernel (recovering its state) and wires metrics, the snapshot scheduler,
// replication and the app; start() listens and then starts replication; stop() takes it all down
// in the one safe order. main.ts runs it under signals; the in-process tests run it through
// __test__/helpers.ts, so they exercise the same lifecycle and always close the kernel.
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { createApp } from './app';
import type { Config } from './config';
import { checkpointPolicy, startSnapshotScheduler, type SnapshotScheduler } from './jobs/snapshots';
import { ClusterNode } from './cluster/node';
import { ClusterHashCheck } from './cluster/hash-check';
import { registerClusterMetrics } from './cluster/metrics';
import { clusterSettings } from './config';
import { Kernel } from './kernel/kernel';
import type { Logger } from './log';
import { createMetrics, type Metrics } from './metrics';
import { Replication } from './replication/runtime';
import { createHttpServer, formatAddress, serverLimits } from './server';
import { flushTracing, startTracing } from './tracing';

/** How often a cluster member's notices are taken and logged. */
const CLUSTER_NOTICE_MS = 1_000;

/** The kernel could not open its state (dim mismatch, mid-log corruption, unreadable file). */
export class RecoveryError extends Error {
  override readonly name = 'RecoveryError';
}

export interface ValoriOptions {
  logger: Logger;
  /** Opens the kernel; default Kernel.open(config). Tests pass one they opened themselves. */
  openKernel?: (config: Config) => Kernel | Promise<Kernel>;
}

export interface Valori {
  readonly config: Config;
  readonly kernel: Kernel;
  readonly metrics: Metrics;
  readonly replication: Replication;
  readonly app: Express;
  /** Listens on config.bind, logs the readiness line `Listening on HOST:PORT`, then starts replication. */
  start(): Promise<AddressInfo>;
  /**
   * Replication (event streams end, the follower's in-flight applies commit), then the server
   * (in-flight requests answered), then the scheduler and, when configured, a final snapshot,
   * then the kernel (queued writes drain, the log closes). Safe before start() and when called twice.
   */
  stop(): Promise<void>;
}

export async function openValori(config: Config, options: ValoriOptions): Promise<Valori> {
  const { logger } = options;
  let kernel: Kernel;
  let cluster: ClusterNode | null = null;
  try {
    if (clusterSettings(config) !== null && options.openKernel === undefined) {
      // A cluster member: its state is the newest Raft snapshot plus the committed entries after
      // it, which Raft applies once it runs (docs/CLUSTER.md).
      cluster = await ClusterNode.open(config);
      kernel = cluster.kernel;
    } else {
      kernel = await (options.openKernel ?? ((c: Config) => Kernel.open(c)))(config);
    }
  } catch (err) {
    throw new RecoveryError((err as Error).message, { cause: err });
  }
  try {
    return wire(config, kernel, logger, cluster);
  } catch (err) {
    // A boot failure after the kernel opened (an unusable API keys file) must not leave its
    // committer thread running.
    await cluster?.shutdown();
    kernel.close();
    throw err;
  }
}

function wire(config: Config, kernel: Kernel, logger: Logger, cluster: ClusterNode | null): Valori {
  const recovery = kernel.recovery();
  for (const w of recovery.warnings) logger.warn(`recovery: ${w}`);
  for (const e of recovery.errors) logger.error(`recovery: ${e}`);
  const stats = kernel.stats();
  logger.info(
    `recovered from ${recovery.source}: height ${recovery.height}` +
      (recovery.snapshotHeight != null ? `, snapshot at ${recovery.snapshotHeight}` : '') +
      `, ${recovery.replayed} events replayed in ${recovery.seconds.toFixed(3)} s (persistence: ${stats.persistence}, records: ${stats.records.live})`,
  );
  const metrics = createMetrics(
    () => kernel.stats(),
    () => kernel.listCollections(),
    () => kernel.logProof()?.bytes ?? null,
    config.followerOf !== null,
  );
  metrics.observeReplay(recovery.seconds);
  // Only with OTEL_EXPORTER_OTLP_ENDPOINT set; otherwise nothing of OpenTelemetry is loaded.
  if (startTracing(process.env, (message) => logger.warn(message))) logger.info('traces: exporting OpenTelemetry spans over OTLP/HTTP (OTEL_EXPORTER_OTLP_ENDPOINT)');
  const replication = new Replication({ config, kernel, logger, metrics });
  const hashCheck =
    cluster === null
      ? null
      : new ClusterHashCheck({ cluster, kernel, ring: replication.ring, logger, intervalMs: config.replicationCheckIntervalMs, token: config.leaderToken ?? config.authToken });
  if (cluster !== null) {
    const raftMetrics = registerClusterMetrics(metrics.registry, cluster, () => hashCheck?.results() ?? []);
    kernel.onCommit((seconds) => {
      metrics.observeCommit(seconds);
      raftMetrics.observeProposal(seconds);
    });
    logger.info(`cluster member ${cluster.nodeId}: Raft on ${clusterSettings(config)?.raftBind ?? '?'}, ${config.clusterMembers?.length ?? 0} initial members${config.clusterInit ? ' (initializes the cluster when its log is empty)' : ''}`);
  } else {
    kernel.onCommit((seconds) => metrics.observeCommit(seconds));
  }
  // Proof ring, leader event streams and, with VALORI_FOLLOWER_OF, the follower loop: created above.
  const { app, listener } = createApp({ config, kernel, logger, metrics, replication, cluster });
  const server = createHttpServer(listener, config.bind, serverLimits(config));
  // With an event log, checkpoints go to VALORI_SNAPSHOT_PATH or, unset, <event log>.snapshot.
  // A cluster member's snapshots are Raft's (VALORI_SNAPSHOT_EVERY_EVENTS), not the scheduler's.
  const checkpoint = cluster === null ? checkpointPolicy(config) : null;
  const snapshots: SnapshotScheduler = startSnapshotScheduler(
    kernel,
    { intervalSecs: config.snapshotPath === null ? null : config.snapshotIntervalSecs, checkpoint },
    logger,
    metrics,
  );

  // The Raft member's notices (initialization waiting for members, a learner promoted or left a
  // learner) go to the log as they come, checked every second.
  const notices =
    cluster === null
      ? null
      : setInterval(() => {
          for (const text of cluster.takeNotices()) logger.warn(`cluster: ${text}`);
        }, CLUSTER_NOTICE_MS).unref();

  let stopping: Promise<void> | null = null;
  const stopAll = async (): Promise<void> => {
    // Replication first: open event streams end (so the server can close), and the follower
    // stops streaming and lets its in-flight applies commit before the kernel closes.
    await replication.stop();
    await hashCheck?.stop();
    if (notices !== null) clearInterval(notices);
    await server.stop();
    // Then Raft: no more entries are applied, so the state stays put while the kernel closes.
    await cluster?.shutdown();
    // After the socket: in-flight requests have been answered. Then an optional final snapshot
    // (bounds the next start-up's replay), then queued writes drain and the log closes.
    await snapshots.stop();
    if (cluster === null && (config.snapshotPath !== null || checkpoint !== null) && config.snapshotOnShutdown) await snapshots.runNow('shutdown');
    kernel.close();
    // The spans of the last requests, before the process may exit.
    await flushTracing();
  };

  return {
    config,
    kernel,
    metrics,
    replication,
    app,
    async start() {
      const address = await server.start();
      logger.info(`Listening on ${formatAddress(config.bind.host, address.port)}`);
      // After listening, so /v1/replication/state already answers while the follower connects.
      replication.start();
      hashCheck?.start();
      return address;
    },
    stop() {
      stopping ??= stopAll();
      return stopping;
    },
  };
}
