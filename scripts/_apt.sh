# Shared by scripts/_venv.sh and scripts/test: install a Debian package the scripts need.
# Usage: source scripts/_apt.sh; apt_install PACKAGE REASON
#
# Installs PACKAGE quietly with apt-get: as root, else through sudo. When it cannot (no
# apt-get, not root and no sudo, or apt-get failed), says in one line what to install and
# returns 1, so that a fresh machine gets an instruction rather than apt's raw error.
apt_install() {
  local package="$1" reason="$2" sudo="" log
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "Install $package ($reason) with your system's package manager, then run again." >&2
    return 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "Install $package ($reason) as root: apt-get install $package; then run again." >&2
      return 1
    fi
    sudo="sudo"
  fi
  echo "Installing $package ($reason)..." >&2
  log="$(mktemp)"
  if ! {
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package"
  } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "Installing $package with apt-get failed (output above): install $package ($reason), then run again." >&2
    return 1
  fi
  rm -f "$log"
}
