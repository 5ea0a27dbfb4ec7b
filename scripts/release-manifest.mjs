#!/usr/bin/env node
// Turns the checked-out package.json files into what the release publishes (run by
// .github/workflows/release.yml on its own checkout, never committed):
//  - valori-node's optionalDependencies name the package of every napi target at the same version.
//    The repository lists only linux-x64-gnu (a workspace): the others do not exist on the
//    registry before the first release, and `npm ci` refuses a lock file that lacks them.
//  - every package gets `repository` (npm's provenance check compares it with the building
//    repository) from GITHUB_REPOSITORY, when that is set.
//  - the standalone client (packages/client, published as valori-node-client) is released at the
//    server's version: its package.json and the version its User-Agent names (src/client/version.ts)
//    must equal valori-node's, and it must stay free of dependencies.
//  - with --tag vX.Y.Z, the tag must equal the version in every package.json.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// --root DIR: work on a copy (the test does), not this checkout.
const rootAt = process.argv.indexOf('--root');
const root = rootAt >= 0 ? process.argv[rootAt + 1] : join(dirname(fileURLToPath(import.meta.url)), '..');
const read = (f) => JSON.parse(readFileSync(f, 'utf8'));
const write = (f, v) => writeFileSync(f, `${JSON.stringify(v, null, 2)}\n`);

/** napi's platform suffix of a Rust target triple, for the seven targets this package builds. */
const SUFFIX = {
  'x86_64-unknown-linux-gnu': 'linux-x64-gnu',
  'aarch64-unknown-linux-gnu': 'linux-arm64-gnu',
  'x86_64-unknown-linux-musl': 'linux-x64-musl',
  'aarch64-unknown-linux-musl': 'linux-arm64-musl',
  'x86_64-apple-darwin': 'darwin-x64',
  'aarch64-apple-darwin': 'darwin-arm64',
  'x86_64-pc-windows-msvc': 'win32-x64-msvc',
};

const mainFile = join(root, 'package.json');
const main = read(mainFile);
const tagAt = process.argv.indexOf('--tag');
const tag = tagAt >= 0 ? process.argv[tagAt + 1] : undefined;
if (tag !== undefined && tag !== `v${main.version}`) throw new Error(`tag ${tag} does not match package.json version ${main.version}`);
const repo = process.env.GITHUB_REPOSITORY;
const repository = repo ? { type: 'git', url: `git+https://github.com/${repo}.git` } : undefined;

const optional = {};
for (const triple of main.napi.targets) {
  const suffix = SUFFIX[triple];
  if (!suffix) throw new Error(`no package suffix known for target ${triple}`);
  const file = join(root, 'npm', suffix, 'package.json');
  if (!existsSync(file)) throw new Error(`npm/${suffix}/package.json is missing`);
  const pkg = read(file);
  if (pkg.name !== `${main.name}-${suffix}`) throw new Error(`npm/${suffix} is named ${pkg.name}`);
  if (pkg.version !== main.version) throw new Error(`npm/${suffix} is at ${pkg.version}, valori-node at ${main.version}`);
  if (repository) write(file, { ...pkg, repository });
  optional[pkg.name] = main.version;
}

const clientFile = join(root, 'packages', 'client', 'package.json');
if (!existsSync(clientFile)) throw new Error('packages/client/package.json is missing');
const client = read(clientFile);
if (client.version !== main.version) throw new Error(`packages/client is at ${client.version}, valori-node at ${main.version}: release them at one version`);
const sent = /CLIENT_VERSION = '([^']*)'/.exec(readFileSync(join(root, 'src', 'client', 'version.ts'), 'utf8'))?.[1];
if (sent !== main.version) throw new Error(`src/client/version.ts says ${sent}, valori-node is at ${main.version}: the client's User-Agent would name the wrong version`);
const clientDeps = Object.keys({ ...client.dependencies, ...client.peerDependencies, ...client.optionalDependencies });
if (clientDeps.length > 0) throw new Error(`packages/client must have no dependencies, has ${clientDeps.join(', ')}`);
if (repository) write(clientFile, { ...client, repository: { ...repository, directory: 'packages/client' } });

write(mainFile, { ...main, ...(repository ? { repository } : {}), optionalDependencies: optional });
console.log(
  `release manifest: ${Object.keys(optional).length} optional platform packages and ${client.name} at ${main.version}${repository ? `, repository ${repository.url}` : ''}`,
);
