#!/usr/bin/env bash
# `make fuzz` (issue 8): runs each cargo-fuzz target of fuzz/ for FUZZ_SECONDS
# (default 60) with AddressSanitizer, on a copy of its seed corpus so the inputs a run
# adds stay out of git. Exits non-zero when a target crashes; the crashing input is
# in fuzz/artifacts/<target>/, the log in fuzz/target/runs/<target>/fuzz.log.
#
#   scripts/fuzz.sh                               # every target, 60 s each
#   FUZZ_SECONDS=600 scripts/fuzz.sh access_token # one target, longer
#
# No nightly needed: cargo-fuzz passes `-Zsanitizer=address`, which RUSTC_BOOTSTRAP=1
# lets the stable rustc accept (its sysroot ships the ASan runtime). FUZZ_SANITIZER=none
# builds without a sanitizer, for a toolchain that lacks the runtime.
# Reproduce a crash: RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/<file>
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
sanitizer=${FUZZ_SANITIZER:-address}
export RUSTC_BOOTSTRAP=1

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    mapfile -t targets < <(cargo fuzz list)
fi

# One build for every target (about 10 minutes from clean on 2 cores).
cargo fuzz build --sanitizer "$sanitizer"

# Per-target libFuzzer flags. request_decoding: a leak check scans the whole app's heap
# after each new input and cuts the rate tenfold (about 300 instead of 3,000 exec/s);
# it found nothing but actix-router's deliberate, suppressed leaks.
declare -A target_flags=([request_decoding]="-detect_leaks=0")

runs=fuzz/target/runs
failed=()
for target in "${targets[@]}"; do
    corpus="$runs/$target/corpus"
    log="$runs/$target/fuzz.log"
    rm -rf "${runs:?}/$target"
    mkdir -p "$corpus" "fuzz/artifacts/$target"
    cp fuzz/corpus/"$target"/seed-* "$corpus"/
    echo "fuzz: $target for ${seconds}s" >&2
    # -timeout: an input that takes 10 s is a hang, reported like a crash.
    if cargo fuzz run --sanitizer "$sanitizer" "$target" "$corpus" -- \
        -max_total_time="$seconds" -timeout=10 ${target_flags[$target]:-} >"$log" 2>&1; then
        grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 | sed "s/^/fuzz: $target: /" >&2
        grep -E '^Done [0-9]+ runs' "$log" | sed "s/^/fuzz: $target: /" >&2
    else
        failed+=("$target")
        echo "fuzz: $target FAILED (whole log: $log):" >&2
        grep -E -A3 'panicked at|==[0-9]+==ERROR|^SUMMARY|Test unit written' "$log" >&2 ||
            tail -n 40 "$log" >&2
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz: crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz: no crash in ${targets[*]}" >&2
