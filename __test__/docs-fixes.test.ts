// Documentation that operators copy: the API reference's table of contents links every section,
// no documented curl follows a follower's redirect in a way that drops the token, and the compose
// file carries no fixed token.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = join(__dirname, '..');
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');

/** Lines outside (or, with `inside`, inside) ``` fences. */
function fenced(text: string, inside: boolean): string[] {
  let open = false;
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) {
      open = !open;
      continue;
    }
    if (open === inside) out.push(line);
  }
  return out;
}

/** GitHub's heading anchor: lower case, punctuation other than - and _ dropped, spaces to -. */
function anchor(heading: string): string {
  return heading.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
}

describe('docs', () => {
  it('when docs/api-reference.md is read, then its table of contents links every ## section and only existing ones', () => {
    const lines = fenced(read('docs/api-reference.md'), false);
    const first = lines.findIndex((l) => l.startsWith('## '));
    assert.ok(first > 0);
    const sections = lines.filter((l) => l.startsWith('## ')).map((l) => anchor(l.slice(3)));
    const toc = new Set([...lines.slice(0, first).join('\n').matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]));
    assert.ok(sections.length > 40, `${sections.length} sections`);
    assert.deepEqual(sections.filter((s) => !toc.has(s)), [], 'sections missing from the table of contents');
    assert.deepEqual([...toc].filter((t) => !sections.includes(t)), [], 'table-of-contents links to no section');
  });

  it('when a documented curl command follows redirects, then it uses --location-trusted (plain -L drops the token on a 307 to the leader)', () => {
    const files = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const offending: string[] = [];
    for (const file of files) {
      for (const line of fenced(read(file), true)) {
        if (/\bcurl\b/.test(line) && /(^|\s)(-[A-Za-z]*L[A-Za-z]*|--location)(\s|$)/.test(line)) offending.push(`${file}: ${line.trim()}`);
      }
    }
    assert.deepEqual(offending, []);
  });

  it('when docker-compose.yml sets a token, then it takes it from the environment and refuses to start without it', () => {
    const values = [...read('docker-compose.yml').matchAll(/^\s*(VALORI_AUTH_TOKEN|VALORI_LEADER_TOKEN):\s*(.*)$/gm)];
    assert.ok(values.length >= 2, 'the leader and the follower both set VALORI_AUTH_TOKEN');
    for (const [, name, value] of values) assert.match(value, new RegExp(`^"\\$\\{${name}:\\?[^}]+\\}"$`), `${name}: ${value}`);
  });
});
