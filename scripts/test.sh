#!/usr/bin/env bash
# The test command: installs the external tools the tests use (once), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/test-tools.sh)"
exec cargo test --locked "$@"
