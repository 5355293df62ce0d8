#!/usr/bin/env bash
# Fuzz smoke run: builds the two cargo-fuzz targets of fuzz/ (nifti_read: bytes -> the NIfTI
# reader; graph_parse: bytes -> the graph parser and validator) and runs each for a short time
# from the checked-in seed corpus fuzz/corpus/<target>/. Exits non-zero on the first crash
# (a panic, an overflow, a per-input timeout, running out of memory); libFuzzer then prints
# the input and leaves it in fuzz/artifacts/<target>/ (reproduce with
# `cargo fuzz run --sanitizer none <target> <that file>`).
#
#   scripts/fuzz_smoke.sh [SECONDS_PER_TARGET]        (default 60)
#
# Needs only the stable toolchain: the targets are built with `--sanitizer none`, as
# AddressSanitizer needs nightly's -Zsanitizer (and voxflow's crates are safe Rust: what the
# fuzzer looks for here is panics, overflows, hangs and huge allocations). libFuzzer's coverage
# instrumentation uses stable -C flags. cargo-fuzz is installed (pinned) if missing. Builds go
# to $CARGO_TARGET_DIR/fuzz (default target/fuzz). New inputs the fuzzer finds go to a
# temporary directory, so the checked-in corpus is left as it is.
set -euo pipefail

CARGO_FUZZ_VERSION=0.13.2
seconds=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$root/target}/fuzz

if ! cargo fuzz --version 2>/dev/null | grep -qF "$CARGO_FUZZ_VERSION"; then
    cargo install --locked "cargo-fuzz@$CARGO_FUZZ_VERSION"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$root/fuzz"
for target in nifti_read graph_parse; do
    echo "== $target: ${seconds}s from corpus/$target" >&2
    cargo fuzz build --sanitizer none --target-dir "$target_dir" "$target"
    mkdir -p "$work/$target"
    # -timeout: seconds one input may take; -rss_limit_mb: memory the process may use.
    cargo fuzz run --sanitizer none --target-dir "$target_dir" "$target" "$work/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
done
echo "fuzz smoke: no crash in ${seconds}s per target" >&2
