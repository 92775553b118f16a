#!/usr/bin/env bash
# usage: tests/fuzz/run.sh [target…]   (default: every target)
# Builds the libFuzzer targets (the `fuzz` preset: clang, ASan + UBSan) and runs each one for a
# bounded time from its seed corpus (tests/fuzz/corpus/<target>, or for the document targets the
# test documents written into build/fuzz/seeds/<target>), two at a time on the two cores.
# Fails on any crash, leak, timeout or out-of-memory, and prints the input that caused it (kept
# under build/fuzz/runs/<target>/) with the sanitizer's report and stack.
#   OPALEBOT_FUZZ_SECONDS  seconds per target (default 30)
#   OPALEBOT_FUZZ_JOBS     targets run at once (default 2)
# What the fuzzer finds on the way is added to build/fuzz/corpus/<target>, reused by the next run.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
seconds=${OPALEBOT_FUZZ_SECONDS:-30}
jobs=${OPALEBOT_FUZZ_JOBS:-2}

# target and the largest input it is given: a little above its largest seed, so that mutations
# stay in the sizes the bot meets (a /sync batch is bigger than a reminder phrase).
declare -A max_len=(
  [sync]=16384 [crypto]=8192 [command]=2048 [reminder]=256
  [csv]=8192 [fiche]=8192 [itop]=8192 [config]=8192
  [pdf]=65536 [odf]=16384 [ooxml]=65536 [html]=8192
)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(sync crypto command reminder csv fiche itop config pdf odf ooxml html)
for t in "${targets[@]}"; do
  [ -n "${max_len[$t]:-}" ] || { echo "unknown fuzz target: $t" >&2; exit 2; }
done

# clang, and libFuzzer with the sanitizer runtimes
bash deploy/install-packages.sh clang libclang-rt-14-dev
start=$SECONDS
cmake --preset fuzz > /dev/null
cmake --build --preset fuzz -j 2
echo "fuzz: built in $((SECONDS - start)) s"

# The document targets' seeds: the test documents (tests/fixtures/documents), written here
# rather than committed as binaries.
seeds=build/fuzz/seeds
documents=build/fuzz/documents
bash tests/fixtures/documents/make_documents.sh "$documents" build/fuzz/documents-venv > /dev/null
declare -A seed_files=(
  [pdf]="guide.pdf scan.pdf protege.pdf"
  [odf]="recette.odt budget.odp chiffre.odt"
  [ooxml]="prelevement.docx engagement.pptx"
  [html]="page.html fiche.md notes.txt"
)
for t in "${!seed_files[@]}"; do
  rm -rf "${seeds:?}/$t" && mkdir -p "$seeds/$t"
  for f in ${seed_files[$t]}; do cp "$documents/$f" "$seeds/$t/"; done
done

bin=build/fuzz/tests/fuzz
runs=build/fuzz/runs
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
command -v llvm-symbolizer > /dev/null && export ASAN_SYMBOLIZER_PATH=$(command -v llvm-symbolizer)

run_one() {
  local t=$1 dir=$runs/$1
  rm -rf "$dir" && mkdir -p "$dir" "build/fuzz/corpus/$t"
  # The generated corpus first: libFuzzer adds to the first directory only, never to the seeds.
  # timeout(1) is a backstop: libFuzzer stops at -max_total_time and -timeout already.
  local status=0 corpora=("build/fuzz/corpus/$t")
  [ -d "tests/fuzz/corpus/$t" ] && corpora+=("tests/fuzz/corpus/$t")
  [ -d "$seeds/$t" ] && corpora+=("$seeds/$t")
  timeout $((seconds * 2 + 300)) "$bin/opalebot_fuzz_$t" \
    -max_total_time="$seconds" -max_len="${max_len[$t]}" -timeout=10 -rss_limit_mb=2048 \
    -dict="tests/fuzz/dict/$t.dict" -artifact_prefix="$dir/" -print_final_stats=1 \
    "${corpora[@]}" > "$dir/log" 2>&1 || status=$?
  echo "$status" > "$dir/status"
}

start=$SECONDS
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  run_one "$t" &
done
wait

failed=0
for t in "${targets[@]}"; do
  dir=$runs/$t
  status=$(cat "$dir/status" 2> /dev/null || echo missing)
  runs_done=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$dir/log" | grep -oE '[0-9]+$' || echo "?")
  coverage=$(grep -oE 'cov: [0-9]+' "$dir/log" | tail -1 || true)
  if [ "$status" = 0 ]; then
    echo "fuzz: $t passed: ${runs_done} inputs, ${coverage:-cov: ?}"
    continue
  fi
  failed=1
  echo "fuzz: $t FAILED (exit $status)" >&2
  for input in "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* "$dir"/slow-unit-*; do
    [ -e "$input" ] || continue
    echo "fuzz: input: $input" >&2
    echo "fuzz: reproduce: $bin/opalebot_fuzz_$t $input" >&2
  done
  # the report and its stack, without libFuzzer's progress lines
  grep -vE '^#[0-9]+[[:space:]]|^INFO: ' "$dir/log" | tail -n 120 >&2
done
echo "fuzz: ran ${#targets[@]} targets, ${seconds} s each, in $((SECONDS - start)) s"
exit $failed
