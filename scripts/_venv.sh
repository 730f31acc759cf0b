# Shared by scripts/test and scripts/demo: create .venv and install the project into it.
# Usage: source scripts/_venv.sh EXTRA (EXTRA may be ""; pass it always, since a sourced
# script otherwise sees the caller's own arguments as $1).
# Needs only python3 (3.11 or newer) on PATH; on Debian without python3.X-venv, installs
# it (as root or through sudo) or says to (scripts/_apt.sh).
#
# The install is editable, so source edits need no reinstall: it is redone only when
# pyproject.toml or the extra changes (a stamp in .venv holds their hash). Its output goes
# to .venv/install.log and is shown only if the install fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
_extra="${1:-}"
_stamp_file=.venv/.scim-proxy-installed
_stamp_for() {
  { cat pyproject.toml; echo "extra=$1"; } | "$PYTHON" -c \
    'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'
}
_stamp="$(_stamp_for "$_extra")"
if [ -x .venv/bin/python ] && [ -f "$_stamp_file" ]; then
  _installed="$(cat "$_stamp_file")"
  # The test extra's install also holds everything the plain one (the demo's) needs.
  if [ "$_installed" = "$_stamp" ] || { [ -z "$_extra" ] && [ "$_installed" = "$(_stamp_for test)" ]; }; then
    return 0
  fi
fi
echo "Setting up .venv (installs the project and its dependencies; first run only)..." >&2
_create_venv() {
  # Debian's python3 has no ensurepip until python3.X-venv is installed: venv then fails
  # half-way with a long message, leaving a .venv without pip that a later run would
  # take as made. Install the package (or say which) and try once more.
  local output package
  if output="$("$PYTHON" -m venv .venv 2>&1)"; then return 0; fi
  rm -rf .venv
  if "$PYTHON" -c 'import ensurepip' >/dev/null 2>&1; then
    echo "$output"
    echo "Creating .venv with $PYTHON -m venv failed (output above)."
    return 1
  fi
  package="$("$PYTHON" -c 'import sys; print("python%d.%d-venv" % sys.version_info[:2])')"
  source scripts/_apt.sh
  apt_install "$package" "$PYTHON -m venv needs it to create .venv" || return 1
  if ! "$PYTHON" -m venv .venv; then
    rm -rf .venv
    echo "Creating .venv with $PYTHON -m venv failed even with $package installed (output above)."
    return 1
  fi
}
if [ ! -x .venv/bin/python ]; then
  _create_venv >&2 || exit 1
fi
rm -f "$_stamp_file"
if ! {
  .venv/bin/python -m pip install --disable-pip-version-check --upgrade pip &&
    if [ -n "$_extra" ]; then
      .venv/bin/python -m pip install --disable-pip-version-check -e ".[$_extra]"
    else
      .venv/bin/python -m pip install --disable-pip-version-check -e .
    fi
} >.venv/install.log 2>&1; then
  cat .venv/install.log >&2
  echo "Setting up .venv failed (output above, also in .venv/install.log)." >&2
  exit 1
fi
echo "$_stamp" >"$_stamp_file"
