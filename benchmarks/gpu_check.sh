#!/usr/bin/env bash
# The GPU check: the CUDA tests on the card, then the GPU benchmarks. Run it the moment a GPU
# machine is lent (DESIGN.md, "GPU time is scarce"), from the repository root:
#
#     OUT=/some/folder bash benchmarks/gpu_check.sh        # OUT defaults to ./gpu_out
#
# It uses the machine's own Python (python3, or $PYTHON) with its numba, numba-cuda, torch,
# pytest and hypothesis, and numbanet from this checkout. It writes to $OUT:
#   gpu_tests.log   pytest -m cuda over tests/, simulator off (limit TESTS_TIMEOUT s)
#   gpu_bench.md    the figures: the table for benchmarks/RESULTS.md (gpu_bench.json beside it)
#   gpu_check.log   the card, the versions, the benchmarks' output and the summary
# Each stage is stopped by SIGINT at its limit, so both still report what they did. The exit
# status is 0 when the tests passed and every benchmark ran.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
OUT=${OUT:-$PWD/gpu_out}
mkdir -p "$OUT" || exit 2
PY=${PYTHON:-python3}
TESTS_TIMEOUT=${TESTS_TIMEOUT:-200}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-150}
LOG=$OUT/gpu_check.log
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
unset NUMBA_ENABLE_CUDASIM                                   # the real card, not the simulator
export NUMBANET_CUDA_EXAMPLES=${NUMBANET_CUDA_EXAMPLES:-3}  # examples per CUDA property test

{
    echo "gpu_check.sh: $(date -u +%Y-%m-%dT%H:%M:%SZ), results in $OUT"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 \
        || echo "nvidia-smi failed or not found"
    "$PY" -c 'import sys, numba, numbanet
print("python", sys.version.split()[0], "numba", numba.__version__, "numbanet", numbanet.__file__)
print("numbanet.cuda: available", numbanet.cuda.is_available(),
      "simulated", numbanet.cuda.is_simulated())'
} 2>&1 | tee "$LOG"

echo "== CUDA tests (limit ${TESTS_TIMEOUT} s)" | tee -a "$LOG"
timeout -s INT -k 10 "$TESTS_TIMEOUT" "$PY" -m pytest -q -m cuda -p no:cacheprovider tests \
    > "$OUT/gpu_tests.log" 2>&1
TESTS_RC=$?
TESTS_LINE=$(tail -n 1 "$OUT/gpu_tests.log")

echo "== GPU benchmarks (limit ${BENCH_TIMEOUT} s)" | tee -a "$LOG"
timeout -s INT -k 10 "$BENCH_TIMEOUT" "$PY" benchmarks/gpu_bench.py --out "$OUT" 2>&1 \
    | tee -a "$LOG"
BENCH_RC=${PIPESTATUS[0]}

{
    echo "== summary"
    echo "CUDA tests: exit status $TESTS_RC${TESTS_LINE:+ -- $TESTS_LINE}"
    echo "benchmarks: exit status $BENCH_RC (124: time limit; the table holds what was measured)"
} | tee -a "$LOG"
[ "$TESTS_RC" -eq 0 ] && [ "$BENCH_RC" -eq 0 ]
