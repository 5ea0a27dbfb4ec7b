// Rewrites the configuration table in README.md (between the config-table markers) from the
// config schema in src/config.ts, the same source `valori-node --help` and boot-time validation
// use, so the README cannot drift from what the node accepts.
//
//   npm run docs:config            rewrite README.md
//   npm run docs:config -- --check exit 1 when README.md is out of date
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_SCHEMA } from '../src/config';

export const README = join(__dirname, '..', 'README.md');
const START = '<!-- config-table:start -->';
const END = '<!-- config-table:end -->';

/** Markdown table cells: a pipe would end the cell, a newline the row. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

function code(text: string): string {
  return text.startsWith('(') ? text : `\`${text}\``;
}

export function renderConfigTable(): string {
  const rows = Object.values(CONFIG_SCHEMA).map(
    (s) => `| \`${s.env}\` | ${cell(s.type)} | ${cell(code(s.defaultText))} | ${cell(s.doc)} | ${cell(s.feature)} |`,
  );
  return [
    '<!-- Generated from src/config.ts by `npm run docs:config`; edit the schema, not this table. -->',
    '',
    '| Variable | Type | Default | Meaning | Feature |',
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** README text with the block between the markers replaced; throws when a marker is missing. */
export function withConfigTable(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md needs ${START} followed by ${END}`);
  return `${readme.slice(0, start + START.length)}\n${renderConfigTable()}\n${readme.slice(end)}`;
}

function main(): void {
  const current = readFileSync(README, 'utf8');
  const next = withConfigTable(current);
  if (process.argv.includes('--check')) {
    if (next !== current) {
      process.stderr.write('README.md configuration table is out of date: run `npm run docs:config`\n');
      process.exit(1);
    }
    return;
  }
  if (next !== current) writeFileSync(README, next);
  process.stdout.write(next === current ? 'README.md is up to date\n' : 'README.md configuration table rewritten\n');
}

if (require.main === module) main();
