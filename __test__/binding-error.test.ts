// The message when the native addon cannot load (src/kernel/binding-error.ts). The real case, an
// install without the platform package, is in pack.test.ts; here the hosts we cannot run on.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bindingLoadError, hostInfo, platformKey, type HostInfo } from '../src/kernel/binding-error';

const VERSION = (require('../package.json') as { version: string }).version;

/** What the generated loader throws: a generic message, the attempts as a cause chain. */
function loaderError(...attempts: string[]): Error {
  const chain = attempts.reduce<Error | null>((prev, msg) => Object.assign(new Error(msg), { cause: prev }), null);
  return Object.assign(new Error('Cannot find native binding. npm has a bug related to optional dependencies'), { cause: chain });
}

const host = (h: Partial<HostInfo>): HostInfo => ({ platform: 'linux', arch: 'x64', libc: 'gnu', glibcVersion: '2.36', node: 'v20.0.0', ...h });

describe('native addon load failure message', () => {
  it('when this host is the prebuilt platform, then it names the package and version to install, and keeps the attempts', () => {
    const err = bindingLoadError(loaderError("Cannot find module './valori-node.linux-x64-gnu.node'", "Cannot find module 'valori-node-linux-x64-gnu'"), host({}));
    assert.equal(err.code, 'NATIVE_BINDING_MISSING');
    assert.match(err.message, /on linux-x64-gnu \(Node v20\.0\.0, glibc 2\.36\)/);
    assert.ok(err.message.includes(`npm install valori-node-linux-x64-gnu@${VERSION}`), err.message);
    assert.ok(err.message.includes("Cannot find module './valori-node.linux-x64-gnu.node'; Cannot find module 'valori-node-linux-x64-gnu'"), 'attempts in order');
    assert.doesNotMatch(err.message, /npm has a bug/);
  });

  it('when the host is one of the other prebuilt platforms, then it names that platform package', () => {
    const cases = [
      [host({ platform: 'darwin', arch: 'arm64', libc: null, glibcVersion: null }), 'darwin-arm64'],
      [host({ platform: 'darwin', arch: 'x64', libc: null, glibcVersion: null }), 'darwin-x64'],
      [host({ libc: 'musl', glibcVersion: null }), 'linux-x64-musl'],
      [host({ arch: 'arm64', libc: 'musl', glibcVersion: null }), 'linux-arm64-musl'],
      [host({ arch: 'arm64' }), 'linux-arm64-gnu'],
      [host({ platform: 'win32', libc: null, glibcVersion: null }), 'win32-x64-msvc'],
    ] as const;
    for (const [h, key] of cases) {
      const err = bindingLoadError(loaderError('x'), h);
      assert.ok(err.message.includes(`on ${key} (`), err.message);
      assert.ok(err.message.includes(`npm install valori-node-${key}@${VERSION}`), err.message);
    }
  });

  it('when no prebuilt binary exists for the host, then it says so, lists what exists, and points to a source build', () => {
    for (const [h, key] of [[host({ platform: 'freebsd', libc: null, glibcVersion: null }), 'freebsd-x64'], [host({ arch: 'riscv64' }), 'linux-riscv64-gnu']] as const) {
      const err = bindingLoadError(loaderError('x'), h);
      assert.match(err.message, new RegExp(`No prebuilt binary exists for ${key}: prebuilt packages cover linux-x64-gnu, linux-arm64-gnu, linux-x64-musl, linux-arm64-musl, darwin-x64, darwin-arm64, win32-x64-msvc only`));
      assert.match(err.message, /run `npm install` \(needs cargo\)/);
      assert.doesNotMatch(err.message, /npm install valori-node-/);
    }
  });

  it('when run here, then the host is described with its libc', () => {
    const h = hostInfo();
    assert.equal(h.platform, process.platform);
    if (h.platform === 'linux') assert.ok(h.libc === 'gnu' || h.libc === 'musl');
    assert.ok(platformKey(h).startsWith(`${process.platform}-${process.arch}`));
  });
});
