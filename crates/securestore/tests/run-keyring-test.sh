#!/bin/sh
# Run the securestore keyring tests against a real Secret Service: a private D-Bus
# session with gnome-keyring-daemon, its login keyring created/unlocked with a throwaway
# password. Installs nothing. Needs (Debian/Ubuntu): gnome-keyring dbus-daemon dbus-bin
#   apt-get install -y --no-install-recommends gnome-keyring dbus-daemon dbus-bin
# A temporary HOME keeps the test keyring away from the user's real one.
set -eu
cd "$(dirname "$0")/../../.."
for tool in dbus-run-session gnome-keyring-daemon; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install gnome-keyring dbus-daemon dbus-bin)" >&2; exit 1; }
done
test_home=$(mktemp -d)
trap 'rm -rf "$test_home"' EXIT INT TERM
# cargo and rustup must still be found with the temporary HOME.
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
HOME="$test_home" XDG_DATA_HOME="$test_home/.local/share" XDG_RUNTIME_DIR="$test_home" \
dbus-run-session -- sh -c '
    printf %s throwaway-test-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null
    AWS_SSO_TEST_KEYRING=1 cargo test -p securestore --test it keyring "$@"
' sh "$@"
