// `valori-node check`: validates the environment the way the server would at boot and prints the
// effective configuration, without opening the kernel or binding a port (so it runs anywhere,
// even where the native addon cannot load, and next to a running node).
import { ConfigError, loadConfig } from './config';
import { configReport, unknownVariables, unknownWarning } from './config-report';

/** Exit codes: 0 valid; 1 a value the server would refuse; 3 valid but with warnings under --strict. */
export const CHECK_EXIT = { ok: 0, invalid: 1, warnings: 3 } as const;

export interface CheckResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCheck(env: NodeJS.ProcessEnv, options: { strict: boolean }): CheckResult {
  const warnings = unknownVariables(env).map((u) => `warning: ${unknownWarning(u)}\n`);
  let config;
  try {
    config = loadConfig(env);
  } catch (err) {
    // The same one line the server prints before it exits; the warnings often explain it.
    if (err instanceof ConfigError) return { code: CHECK_EXIT.invalid, stdout: '', stderr: `${err.message}\n${warnings.join('')}` };
    throw err;
  }
  const report = configReport(config, env);
  const width = Math.max(...report.map((e) => e.variable.length));
  const lines = report.map(
    (e) => `${e.variable.padEnd(width)}  ${e.value}  [${e.source}]${e.inEffect === undefined ? '' : ` (in effect: ${e.inEffect})`}`,
  );
  const summary = warnings.length === 0 ? 'configuration is valid' : `configuration is valid, with ${warnings.length} warning${warnings.length === 1 ? '' : 's'}`;
  return {
    code: warnings.length > 0 && options.strict ? CHECK_EXIT.warnings : CHECK_EXIT.ok,
    stdout: `${lines.join('\n')}\n\n${summary}\n`,
    stderr: warnings.join(''),
  };
}
