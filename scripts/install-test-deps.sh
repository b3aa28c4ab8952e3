#!/usr/bin/env bash
# What the test suite needs from the system, installed with apt-get (Debian) only when missing:
#   chromium            the browser tests drive /usr/bin/chromium (never a downloaded browser)
#   postgresql          server binaries for scripts/with-postgres.sh's private cluster
#   gettext             msgfmt, for compilemessages
#   fonts-wqy-microhei  a CJK font, so that screenshots show Chinese rather than boxes
#   slapd, ldap-utils   OpenLDAP's server (and slapadd) for the LDAP login tests (tests/ldap_server.py)
#   python3-venv        only while .venv does not exist yet (Debian splits venv out of python3)
#
# Usage: scripts/install-test-deps.sh [--check] [--demo]
#   --check  list what is missing and exit 1 if anything is; install nothing
#   --demo   only what `make demo` needs (gettext, python3-venv): no browser, no PostgreSQL
# Called by `make test`; when everything is present it does nothing and says nothing.
# XINLIAN_TEST_DEPS_ROOT (for this script's own test) looks for the files under another root.
set -euo pipefail
cd "$(dirname "$0")/.."

check_only=0
demo_only=0
for arg in "$@"; do
  case "$arg" in
    --check) check_only=1 ;;
    --demo) demo_only=1 ;;
    *) echo "usage: $0 [--check] [--demo]" >&2; exit 2 ;;
  esac
done

root="${XINLIAN_TEST_DEPS_ROOT:-}"

missing_packages() {
  local need=()
  local all=$(( ! demo_only ))
  [ $all = 0 ] || [ -x "$root/usr/bin/chromium" ] || need+=(chromium)
  [ $all = 0 ] || compgen -G "$root/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
  [ -x "$root/usr/bin/msgfmt" ] || need+=(gettext)
  [ $all = 0 ] || [ -e "$root/usr/share/fonts/truetype/wqy/wqy-microhei.ttc" ] || need+=(fonts-wqy-microhei)
  [ $all = 0 ] || [ -x "$root/usr/sbin/slapd" ] || need+=(slapd)
  [ $all = 0 ] || [ -x "$root/usr/bin/ldapadd" ] || need+=(ldap-utils)
  if [ ! -x .venv/bin/python ] && ! "${PYTHON:-python3}" -c 'import ensurepip' >/dev/null 2>&1; then
    need+=(python3-venv)
  fi
  echo "${need[*]}"
}

read -r -a need <<<"$(missing_packages)"
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ $check_only = 1 ]; then
  echo "install-test-deps: missing ${need[*]}"
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: the tests need ${need[*]}, and this is not a Debian system with apt-get;" >&2
  echo "install the equivalent packages by hand, then run make test again." >&2
  exit 1
fi

as_root=()
if [ "$(id -u)" != 0 ]; then
  sudo_flags=(-n)  # no terminal to ask for a password on: fail at once rather than hang
  [ -t 0 ] && sudo_flags=()
  if command -v sudo >/dev/null 2>&1 && sudo "${sudo_flags[@]}" true 2>/dev/null; then
    as_root=(sudo "${sudo_flags[@]}")
  else
    echo "install-test-deps: the tests need ${need[*]}; installing them takes root. Run" >&2
    echo "  sudo apt-get install -y ${need[*]}" >&2
    echo "(or run make test as root once), then make test again." >&2
    exit 1
  fi
fi

echo "install-test-deps: installing ${need[*]}"
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null

read -r -a still <<<"$(missing_packages)"
if [ ${#still[@]} -gt 0 ]; then
  echo "install-test-deps: apt-get ran, but ${still[*]} still missing" >&2
  exit 1
fi
