#!/usr/bin/env bash
# Installs the external tools the test suite runs against, into target/test-tools/ (idempotent):
#   - Microsoft's SARIF Multitool (npm), the reference validator for SARIF 2.1.0 + GitHub rules;
#   - the pre-commit framework (PyPI), to test the hooks in .pre-commit-hooks.yaml for real.
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

venv="$tools/venv"
if [ ! -x "$venv/bin/pre-commit" ]; then
  echo "installing pre-commit into $venv" >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check pre-commit==4.0.1 >&2
fi

echo "export NMLEAKS_SARIF_MULTITOOL='$sarif'"
echo "export NMLEAKS_PRE_COMMIT='$venv/bin/pre-commit'"
