# Shared by scripts/test and scripts/demo (sourced, not run): installing what the project's
# real peers need, idempotently, and handling the SDK venv's CA bundles.
# Needs ROOT set to the repository root.

export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1

# The SDKs the ECS server must satisfy (awscli stays on v1: v2 is not on PyPI).
SDK_PIP_PACKAGES=('botocore>=1.34,<2' 'awscli>=1.32,<2')
SDK_VENV="${AWS_SSO_SDK_VENV:-$ROOT/.venv}"
export AWS_SSO_SDK_VENV="$SDK_VENV"

log() { printf '\n==> %s\n' "$*"; }

# ensure_apt_packages PKG...: installs the Debian packages that are missing.
ensure_apt_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        log "apt-get install ${missing[*]}"
        apt-get update -qq
        apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# ensure_sdk_venv: the Python venv with botocore and the AWS CLI, at $SDK_VENV, with its
# CA bundles reset to their pristine copies.
ensure_sdk_venv() {
    local stamp="$SDK_VENV/.aws-sso-sdk-packages"
    if [[ ! -x "$SDK_VENV/bin/aws" || "$(cat "$stamp" 2>/dev/null)" != "${SDK_PIP_PACKAGES[*]}" ]] ||
        ! "$SDK_VENV/bin/python" -c 'import botocore, awscli' 2>/dev/null; then
        log "creating the AWS SDK venv at $SDK_VENV"
        rm -rf "$SDK_VENV"
        if ! python3 -m venv "$SDK_VENV" 2>/dev/null; then
            ensure_apt_packages python3-venv
            rm -rf "$SDK_VENV"
            /usr/bin/python3 -m venv "$SDK_VENV"
        fi
        "$SDK_VENV/bin/pip" install -q "${SDK_PIP_PACKAGES[@]}"
        printf '%s' "${SDK_PIP_PACKAGES[*]}" >"$stamp"
    fi
    reset_ca_bundles
}

# The CA bundles the venv's SDKs verify HTTPS against (botocore's, and that of the botocore
# awscli 1.4x vendors), one a line.
sdk_ca_bundles() {
    "$SDK_VENV/bin/python" "$ROOT/scripts/ca-bundles.py"
}

# reset_ca_bundles: undoes every trust_ca_for_sdks (tests and the demo add test CAs).
reset_ca_bundles() {
    [[ -x "$SDK_VENV/bin/python" ]] || return 0
    local bundle
    while IFS= read -r bundle; do
        if [[ -f "$bundle.orig" ]]; then
            cp "$bundle.orig" "$bundle"
        else
            cp "$bundle" "$bundle.orig"
        fi
        rm -f "$bundle.testkit-lock"
    done < <(sdk_ca_bundles)
}

# trust_ca_for_sdks PEM_FILE: the SDKs trust this CA as they trust a public one.
trust_ca_for_sdks() {
    local bundle
    while IFS= read -r bundle; do
        [[ -f "$bundle.orig" ]] || cp "$bundle" "$bundle.orig"
        cat "$1" >>"$bundle"
    done < <(sdk_ca_bundles)
}

# free_port: a TCP port free on 127.0.0.1 right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
