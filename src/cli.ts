#!/usr/bin/env node
// The `valori-node` command (package.json "bin"). Configuration stays in VALORI_* environment
// variables, one schema for every way of starting the node (src/config.ts); flags only ask for
// information. Without flags it starts the server exactly as `node dist/main.js` does.
import { parseArgs } from 'node:util';
import { configHelp } from './config';

const PACKAGE = require('../package.json') as { name: string; version: string; description: string };

const USAGE = `Usage: ${PACKAGE.name} [--help | --version]

${PACKAGE.description}.

Without options, starts the server. Every setting comes from an environment variable, e.g.
  VALORI_DIM=384 VALORI_BIND=0.0.0.0:3000 VALORI_AUTH_TOKEN=$(openssl rand -hex 32) ${PACKAGE.name}
The node logs "Listening on HOST:PORT" when it is ready. A bad value stops it with exit code 2.

Options:
  -h, --help     Print this help (every variable with its default and meaning) and exit.
  -v, --version  Print the version and exit.

`;

export type CliAction = { kind: 'help' } | { kind: 'version' } | { kind: 'start' } | { kind: 'usage-error'; message: string };

/** Decides what to do with the arguments after `valori-node`. */
export function parseCli(argv: string[]): CliAction {
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
    });
    if (values.help) return { kind: 'help' };
    if (values.version) return { kind: 'version' };
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
    return { kind: 'usage-error', message: `${PACKAGE.name}: ${message} (try --help; settings are VALORI_* environment variables)` };
  }
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
