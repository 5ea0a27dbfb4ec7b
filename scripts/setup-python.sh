#!/usr/bin/env bash
# Creates .venv-valoricore with the pinned Python client (python/requirements-valoricore.txt) that
# __test__/valoricore.test.ts drives against a real server. Run by .ci/run; safe to rerun: when
# the venv already holds exactly this requirements file, nothing is downloaded. Needs python3
# (>= 3.11) and PyPI; installs python3-venv through apt only when venv cannot bootstrap pip.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-valoricore
req=python/requirements-valoricore.txt
# A copy of the requirements the venv was built from: identical → up to date.
stamp=$venv/requirements-valoricore.txt

if [ -x "$venv/bin/python" ] && cmp -s "$req" "$stamp" && "$venv/bin/python" -m pip check >/dev/null 2>&1; then
  echo "$venv is up to date ($(grep -m1 '^valoricore==' "$req"))"
  exit 0
fi

rm -rf "$venv"
# Debian splits ensurepip into python3-venv; install it only when venv cannot bootstrap pip.
if ! python3 -m venv "$venv"; then
  rm -rf "$venv"
  apt-get update -qq && apt-get install -y -qq python3-venv
  python3 -m venv "$venv"
fi
# --no-deps: every package comes from the pinned file and nothing else; pip check then fails the
# setup if the file misses a dependency (rather than letting pip pick an unpinned version).
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$req"
"$venv/bin/python" -m pip check
"$venv/bin/python" -c 'import valoricore.remote, importlib.metadata as m; print("valoricore", m.version("valoricore"))'
cp "$req" "$stamp"
