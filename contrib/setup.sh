#!/bin/bash
# Set up vdex on a fresh Debian 12 machine: system packages, then a virtualenv in .venv.
#
#   contrib/setup.sh          what running a switch needs
#   contrib/setup.sh --test   also the reference tools and everything the test suite uses
#
# System packages are installed with apt-get when run as root (CI, a fresh machine); otherwise
# the script says what is missing and goes on with the virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
for arg in "$@"; do
	case $arg in
	--test) want_tests=1 ;;
	-h | --help) sed -n '2,9p' "$0"; exit 0 ;;
	*) echo "setup.sh: unknown option $arg (expected --test)" >&2; exit 2 ;;
	esac
done

run_packages=(python3 python3-venv python3-pip iproute2)
test_packages=(
	vde2 vdeplug libvdeplug-dev  # the reference tools: vde_switch, wirefilter, unixterm, vde_plug, dpipe
	libslirp0 libslirp-dev       # the slirp plugin's library
	iperf3 iputils-ping busybox tcpdump socat  # traffic inside test namespaces
	openssh-server openssh-client              # ssh cables against a real sshd on loopback
	gcc valgrind procps kmod                   # benchmark helper build, instruction counts
)
packages=("${run_packages[@]}")
[ "$want_tests" = 1 ] && packages+=("${test_packages[@]}")

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "setup: installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q
		apt-get install -y -q --no-install-recommends "${missing[@]}"
	else
		echo "setup: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
	fi
fi

# A system-wide sshd must not start on a CI machine just because we installed it.
if [ "$want_tests" = 1 ] && command -v systemctl >/dev/null 2>&1; then
	systemctl disable --now ssh >/dev/null 2>&1 || true
fi

python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3)
if [ ! -x .venv/bin/python ]; then
	"$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
if [ "$want_tests" = 1 ]; then
	.venv/bin/python -m pip install -q -e '.[test]'
else
	.venv/bin/python -m pip install -q -e .
fi
echo "setup: ready ($(.venv/bin/vdex --version))"
