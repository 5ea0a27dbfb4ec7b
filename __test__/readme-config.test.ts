// README's configuration table is generated from the config schema (scripts/gen-config-table.ts);
// this fails whenever the schema changed and the table was not regenerated.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CONFIG_SCHEMA } from '../src/config';
import { README, renderConfigTable, withConfigTable } from '../scripts/gen-config-table';

describe('README configuration table', () => {
  it('when README.md is read, then its table is exactly what the config schema generates', () => {
    const readme = readFileSync(README, 'utf8');
    assert.ok(withConfigTable(readme) === readme, 'README.md configuration table is out of date: run `npm run docs:config`');
  });

  it('when the table is generated, then every variable has one row with its default, meaning and feature', () => {
    const rows = renderConfigTable().split('\n').filter((l) => l.startsWith('| `'));
    assert.equal(rows.length, Object.keys(CONFIG_SCHEMA).length);
    for (const spec of Object.values(CONFIG_SCHEMA)) {
      const row = rows.filter((r) => r.startsWith(`| \`${spec.env}\` |`));
      assert.equal(row.length, 1, spec.env);
      // Cells are split on unescaped pipes only: types such as brute|hnsw|ivf escape theirs.
      const cells = row[0].split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim().replace(/\\\|/g, '|'));
      assert.equal(cells.length, 5, row[0]);
      assert.equal(cells[2].replace(/`/g, ''), spec.defaultText);
      assert.equal(cells[3], spec.doc);
      assert.equal(cells[4], spec.feature);
    }
  });

  it('when the README has no markers, then the generator refuses instead of appending a table somewhere', () => {
    assert.throws(() => withConfigTable('# no markers here\n'), /config-table:start/);
  });
});
