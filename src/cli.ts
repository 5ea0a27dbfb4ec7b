#!/usr/bin/env node
// The `valori-node` command (package.json "bin"). Configuration stays in VALORI_* environment
// variables, one schema for every way of starting the node (src/config.ts); flags only ask for
// information. Without arguments it starts the server exactly as `node dist/main.js` does;
// `check` validates the environment and prints the effective configuration without starting;
// `doctor` checks the addon, data directories, existing files, the port and a follower's leader (src/doctor.ts);
// `cluster …` calls a Raft cluster's membership routes (src/cluster-cli.ts).
import { parseArgs } from 'node:util';
import { CHECK_EXIT, runCheck } from './check';
import { CLUSTER_USAGE, type ClusterCommand, parseClusterArgs, runCluster } from './cluster-cli';
import { configHelp } from './config';
import { REDACTED } from './config-report';
import { runDoctor } from './doctor';

const PACKAGE = require('../package.json') as { name: string; version: string; description: string };

const USAGE = `Usage: ${PACKAGE.name} [--help | --version]
       ${PACKAGE.name} check [--strict]
       ${PACKAGE.name} doctor
       ${PACKAGE.name} cluster status|add-node|remove-node [options]

${PACKAGE.description}.

Without options, starts the server. Every setting comes from an environment variable, e.g.
  VALORI_DIM=384 VALORI_BIND=0.0.0.0:3000 VALORI_AUTH_TOKEN=$(openssl rand -hex 32) ${PACKAGE.name}
The node logs "Listening on HOST:PORT" when it is ready. A bad value stops it with exit code 2.

Commands:
  check          Validate the environment as the server would, without starting it: print every
                 variable with the value in effect and whether it came from the environment or
                 the default (tokens and key hashes shown only as "${REDACTED}"), and warn about
                 unknown VALORI_* names with the closest known one. Exit ${CHECK_EXIT.ok} when valid,
                 ${CHECK_EXIT.invalid} with one line naming a bad value.
    --strict     Exit ${CHECK_EXIT.warnings} instead of ${CHECK_EXIT.ok} when there are warnings.
  doctor         Check what the node needs before it starts, each as PASS, FAIL or SKIP: the
                 native addon and its SIMD path, the data directories (writable, free space),
                 an existing event log and snapshot (readable, same dimension as VALORI_DIM),
                 the listen address and, on a follower, the leader (reachable, token accepted,
                 same dimension). Exit 0 when nothing failed, 1 otherwise.
${CLUSTER_USAGE}
Options:
  -h, --help     Print this help (every variable with its default and meaning) and exit.
  -v, --version  Print the version and exit.

`;

export type CliAction =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'start' }
  | { kind: 'check'; strict: boolean }
  | { kind: 'doctor' }
  | { kind: 'cluster'; command: ClusterCommand }
  | { kind: 'usage-error'; message: string };

const COMMANDS = ['check', 'doctor'];

/** Decides what to do with the arguments after `valori-node`. */
export function parseCli(argv: string[], env: NodeJS.ProcessEnv = process.env): CliAction {
  if (argv[0] === 'cluster') {
    const command = parseClusterArgs(argv.slice(1), env);
    return typeof command === 'string' ? usageError(command) : { kind: 'cluster', command };
  }
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' }, strict: { type: 'boolean' } },
    });
    if (values.help) return { kind: 'help' };
    if (values.version) return { kind: 'version' };
    const [command, extra] = positionals;
    if (command !== undefined && !COMMANDS.includes(command)) return usageError(`unexpected argument '${command}'`);
    if (extra !== undefined) return usageError(`unexpected argument '${extra}'`);
    if (command === 'check') return { kind: 'check', strict: values.strict === true };
    if (values.strict) return usageError("option '--strict' only applies to 'check'");
    if (command === 'doctor') return { kind: 'doctor' };
    return { kind: 'start' };
  } catch (err) {
    // parseArgs explains at length how to pass a positional that starts with '-'; one line that
    // names the offending argument is what a person at a terminal or a supervisor's log needs.
    const raw = err instanceof Error ? err.message : String(err);
    const arg = /'([^']*)'/.exec(raw)?.[1];
    const code = (err as { code?: string }).code;
    const message =
      code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && arg !== undefined
        ? `unknown option '${arg}'`
        : code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' && arg !== undefined
          ? `unexpected argument '${arg}'`
          : raw.split('. ')[0].replace(/^Option/, 'option');
    return usageError(message);
  }
}

function usageError(message: string): CliAction {
  return { kind: 'usage-error', message: `${PACKAGE.name}: ${message} (try --help; settings are VALORI_* environment variables)` };
}

function run(): void {
  const action = parseCli(process.argv.slice(2));
  switch (action.kind) {
    case 'help':
      process.stdout.write(USAGE + configHelp());
      return;
    case 'version':
      process.stdout.write(`${PACKAGE.version}\n`);
      return;
    case 'check': {
      const result = runCheck(process.env, { strict: action.strict });
      process.stdout.write(result.stdout);
      process.stderr.write(result.stderr);
      process.exitCode = result.code;
      return;
    }
    case 'doctor':
      runDoctor(process.env).then(
        (result) => {
          process.stdout.write(result.stdout);
          process.exitCode = result.code;
        },
        (err: unknown) => {
          process.stderr.write(`${PACKAGE.name} doctor: ${err instanceof Error ? err.message : String(err)}\n`);
          process.exitCode = 1;
        },
      );
      return;
    case 'cluster':
      runCluster(action.command).then((result) => {
        process.stdout.write(result.stdout);
        process.stderr.write(result.stderr);
        process.exitCode = result.code;
      });
      return;
    case 'usage-error':
      process.stderr.write(`${action.message}\n`);
      process.exitCode = 2;
      return;
    case 'start': {
      // Loaded only now, so --help and --version work even where the native addon cannot load.
      const { start } = require('./main') as typeof import('./main');
      start();
    }
  }
}

if (require.main === module) run();
