#!/usr/bin/env bash
# The packaging stage of `.ci/run`: builds the Debian package with
# scripts/build-deb.sh (release LTO build; installs cargo-deb if missing),
# checks its contents and control fields, runs the packaged binary from a
# temporary root, and checks examples/cloud-init/ against cloud-init's own
# schema (installs Debian's `cloud-init` package if missing, so it needs
# root and apt then). Ends with "packaging: N passed, 0 failed"; any failed
# check stops it with a message and exit status 1.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TERM_COLOR=never

passed=0
pass() {
    passed=$((passed + 1))
    echo "ok: $*"
}
fail() {
    echo "FAILED: $*" >&2
    echo "packaging: $passed passed, 1 failed"
    exit 1
}

work=$(mktemp -d /tmp/microcloud-packaging.XXXXXX)
trap 'rm -rf "$work"' EXIT

# --- The package ------------------------------------------------------------
start=$(date +%s)
bash scripts/build-deb.sh | tee "$work/build.log"
deb=$(tail -n 1 "$work/build.log")
built=$(date +%s)
[[ -f "$deb" && "$deb" == *.deb ]] || fail "scripts/build-deb.sh did not end with the path of a .deb (got: $deb)"
pass "built $deb in $((built - start)) s"

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
arch=$(dpkg --print-architecture)
[[ $(basename "$deb") == "microcloud_${version}-1_${arch}.deb" ]] ||
    fail "unexpected package name $(basename "$deb")"
pass "package name microcloud_${version}-1_${arch}.deb"

dpkg-deb -c "$deb" | awk '{print $6}' >"$work/contents"
for path in \
    ./usr/bin/microcloud \
    ./usr/share/man/man1/microcloud.1.gz \
    ./usr/share/man/man1/microcloud-validate.1.gz \
    ./usr/share/man/man1/microcloud-plan.1.gz \
    ./usr/share/man/man1/microcloud-preseed.1.gz \
    ./usr/share/man/man1/microcloud-wait-ready.1.gz \
    ./usr/share/man/man1/microcloud-schema.1.gz \
    ./usr/share/man/man1/microcloud-completions.1.gz \
    ./usr/share/man/man1/microcloud-man.1.gz \
    ./usr/share/bash-completion/completions/microcloud \
    ./usr/share/zsh/vendor-completions/_microcloud \
    ./usr/share/fish/vendor_completions.d/microcloud.fish \
    ./usr/share/doc/microcloud/copyright \
    ./usr/share/doc/microcloud/README.md \
    ./usr/share/doc/microcloud/examples/unicast-3-nodes-ovn-ceph.yaml \
    ./usr/share/doc/microcloud/examples/cloud-init/initiator.yaml \
    ./usr/share/doc/microcloud/examples/cloud-init/joiner.yaml \
    ./usr/share/doc/microcloud/schemas/preseed.schema.json; do
    grep -qx -- "$path" "$work/contents" || fail "the package lacks $path"
done
if grep -E '^\./usr/share/man/.*\.1$' "$work/contents"; then
    fail "uncompressed man pages in the package"
fi
pass "contents: binary, 7 man pages (gzipped), 3 completions, copyright, README, examples, schema"

mode=$(dpkg-deb -c "$deb" | awk '$6 == "./usr/bin/microcloud" {print $1 " " $2}')
[[ $mode == "-rwxr-xr-x 0/0" ]] || fail "usr/bin/microcloud is $mode"
pass "usr/bin/microcloud is -rwxr-xr-x, owned by root (0/0)"

field() { dpkg-deb -f "$deb" "$1"; }
[[ $(field Package) == microcloud ]] || fail "Package: $(field Package)"
[[ $(field Version) == "${version}-1" ]] || fail "Version: $(field Version)"
[[ $(field Architecture) == "$arch" ]] || fail "Architecture: $(field Architecture)"
[[ $(field Section) == admin ]] || fail "Section: $(field Section)"
[[ $(field Depends) == *libc6* ]] || fail "Depends: $(field Depends)"
[[ $(field Maintainer) == *"<"*"@"*">" ]] || fail "Maintainer: $(field Maintainer)"
[[ $(field Description) == "Form an LXD + MicroOVN + MicroCeph cluster"* ]] ||
    fail "Description: $(field Description)"
pass "control fields: Package, Version ${version}-1, Architecture $arch, Section, Depends $(field Depends), Maintainer, Description"

# --- The packaged binary, from a temporary root -----------------------------
root="$work/root"
dpkg-deb -x "$deb" "$root"
bin="$root/usr/bin/microcloud"
[[ $("$bin" --version) == "microcloud $version" ]] || fail "--version printed: $("$bin" --version)"
pass "usr/bin/microcloud --version: microcloud $version"

example="$root/usr/share/doc/microcloud/examples/unicast-3-nodes-ovn-ceph.yaml"
out=$(env -u MICROCLOUD_SESSION_PASSPHRASE "$bin" validate "$example") ||
    fail "validate of the packaged example exited $?: $out"
# The example's passphrase file is documentation, installed world-readable
# (0644) like the rest of /usr/share/doc: validate says so, as ssh would of
# a key, and the example is still valid.
[[ $out == *"$example: valid, with 1 warning" ]] || fail "validate printed: $out"
[[ $out == *'the passphrase file "passphrase.txt" is readable by its group and other users (mode 644)'* ]] ||
    fail "validate did not warn about the world-readable example passphrase: $out"
pass "usr/bin/microcloud validate on the packaged unicast example: valid, with the loose-mode warning"

status=0
out=$(printf 'systems: 5\n' | "$bin" validate -) || status=$?
[[ $status == 2 && $out == *"<stdin>: invalid"* ]] || fail "an invalid preseed gave status $status: $out"
pass "usr/bin/microcloud validate on an invalid preseed: exit 2"

bash -n "$root/usr/share/bash-completion/completions/microcloud" ||
    fail "bash rejects the packaged completion"
pass "bash -n accepts the packaged bash completion"

if command -v groff >/dev/null; then
    for page in "$root"/usr/share/man/man1/*.1.gz; do
        warnings=$(gzip -dc "$page" | groff -man -Tutf8 -ww -z 2>&1)
        [[ -z $warnings ]] || fail "groff warns about $(basename "$page"): $warnings"
    done
    pass "groff renders every packaged man page without warnings"
else
    echo "groff is not installed: the packaged man pages are not rendered"
fi

# --- cloud-init's own schema --------------------------------------------------
if ! command -v cloud-init >/dev/null; then
    echo "== apt-get install cloud-init (for \`cloud-init schema\`)"
    apt_start=$(date +%s)
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends cloud-init >/dev/null
    echo "installed cloud-init in $(($(date +%s) - apt_start)) s"
fi
for file in examples/cloud-init/*.yaml; do
    out=$(cloud-init schema --config-file "$file" 2>&1) || fail "cloud-init schema rejects $file: $out"
    [[ $out == *"Valid cloud-config: $file"* ]] || fail "cloud-init schema on $file printed: $out"
    pass "cloud-init schema: $file is valid cloud-config"
done
# The validator really checks: a file mode written as a number (YAML reads
# 0600 as 384) is refused.
sed 's/permissions: "0600"/permissions: 0600/' examples/cloud-init/initiator.yaml >"$work/broken.yaml"
status=0
out=$(cloud-init schema --config-file "$work/broken.yaml" 2>&1) || status=$?
[[ $status != 0 && $out == *"permissions: 384 is not of type 'string'"* ]] ||
    fail "cloud-init schema accepted a broken file (status $status): $out"
pass "cloud-init schema refuses a broken copy (permissions: 0600 unquoted)"

echo "packaging stage: $(($(date +%s) - start)) s in all, $((built - start)) s of it building the package"
echo "packaging: $passed passed, 0 failed"
