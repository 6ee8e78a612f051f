# shellcheck shell=bash
# Debian packages for the hack/ scripts: every script installs what it uses itself, so that each
# one works on a machine with nothing installed (a script must not rely on another having run).
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/packages.sh"
#   ensure_packages podman debootstrap        # installs the missing ones (needs root)
#
# apt-get waits for a dpkg lock held by someone else instead of failing, `apt-get update` runs at
# most once per script run, and progress goes to stderr so that stdout stays the script's output.

PACKAGES_APT_UPDATED=${PACKAGES_APT_UPDATED:-false}

packages_log() { printf '[packages] %s\n' "$*" >&2; }

# The packages of the list that are not installed.
missing_packages() {
  local p status
  for p in "$@"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [[ $status == installed ]] || printf '%s\n' "$p"
  done
}

packages_apt_update() {
  [[ $PACKAGES_APT_UPDATED == true ]] && return 0
  local try
  # `update` takes the lists lock, which DPkg::Lock::Timeout does not cover: retry instead.
  for try in 1 2 3 4 5 6; do
    if apt-get -q -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 update >/dev/null 2>&1; then
      PACKAGES_APT_UPDATED=true
      return 0
    fi
    ((try < 6)) && { packages_log "apt-get update failed (lock busy?), retrying in 10 s"; sleep 10; }
  done
  packages_log "apt-get update kept failing"
  return 1
}

# Installs the missing packages of the list, without recommends (podman's would bring systemd,
# useless where PID 1 is not systemd). Fails with apt's last lines when it cannot.
ensure_packages() {
  local missing out
  mapfile -t missing < <(missing_packages "$@")
  ((${#missing[@]} == 0)) && return 0
  if [[ $(id -u) -ne 0 ]]; then
    packages_log "missing Debian packages: ${missing[*]}; installing them needs root (re-run with sudo)"
    return 1
  fi
  packages_apt_update || return 1
  packages_log "installing Debian packages: ${missing[*]}"
  if ! out=$(DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 \
    -o Acquire::Retries=3 --no-install-recommends "${missing[@]}" 2>&1); then
    tail -n 20 <<<"$out" >&2
    packages_log "apt-get install ${missing[*]} failed"
    return 1
  fi
}

# Java 17 and Maven, for the scripts that build the project. The machines this team uses have them
# preinstalled (not from Debian packages); elsewhere Debian's are installed.
ensure_java_and_maven() {
  local need=()
  command -v java >/dev/null 2>&1 || need+=(openjdk-17-jdk-headless)
  command -v javac >/dev/null 2>&1 || need+=(openjdk-17-jdk-headless)
  command -v mvn >/dev/null 2>&1 || need+=(maven)
  ((${#need[@]} == 0)) && return 0
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  ensure_packages "${need[@]}"
}

# Installs a package only when its command is missing (a python3 or node from elsewhere counts):
#   ensure_commands python3:python3 node:nodejs curl:curl
ensure_commands() {
  local pair need=()
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
  done
  ((${#need[@]} == 0)) || ensure_packages "${need[@]}"
}
