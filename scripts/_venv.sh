# Shared by scripts/test and scripts/demo: create .venv and install the project into it.
# Usage: source scripts/_venv.sh EXTRA (EXTRA may be ""; pass it always, since a sourced
# script otherwise sees the caller's own arguments as $1).
# Needs only python3 (3.11 or newer) on PATH.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
if [ -n "${1:-}" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$1]"
else
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
fi
