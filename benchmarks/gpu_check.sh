#!/usr/bin/env bash
# The prepared GPU check: run it the moment a GPU machine is lent (see DESIGN.md, "GPU time
# is scarce"). From the repository root:
#
#     OUT=/some/folder bash benchmarks/gpu_check.sh        # OUT defaults to ./gpu_out
#
# Stages, each under its own time limit so that one hanging stage cannot eat the budget
# (worst case about 4.5 minutes in all; limits can be changed through the variables below):
#   1. install numbanet into a throwaway folder (/tmp/nbsite) without touching the installed
#      numba / numba-cuda / numpy and without network; falls back to a plain copy of the
#      package, then to the repository root;
#   2. print nvidia-smi, library versions and what numbanet sees (GPU or simulator);
#   3. the CUDA tests on the real GPU, simulator off: pytest -m cuda -> $OUT/gpu_tests.log
#      (exit status 5, "no tests collected", is recorded, not treated as a crash);
#   4. benchmarks/gpu_bench.py -> $OUT/gpu_bench.json and $OUT/gpu_bench.md;
#   5. a summary, and the Markdown table ready for benchmarks/RESULTS.md.
# Everything printed also goes to $OUT/gpu_check.log. The exit status is 0 when the tests
# passed and every benchmark ran, 1 otherwise.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
REPO=$(pwd)
OUT=${OUT:-$REPO/gpu_out}
mkdir -p "$OUT" || exit 2
OUT=$(cd "$OUT" && pwd)
PY=${PYTHON:-python3}
SITE=${NUMBANET_SITE:-/tmp/nbsite}

# seconds per stage (timeouts send SIGINT first, so pytest and gpu_bench.py report where they
# were and keep what they measured; SIGKILL follows after KILL_AFTER seconds)
INSTALL_TIMEOUT=${INSTALL_TIMEOUT:-45}
INFO_TIMEOUT=${INFO_TIMEOUT:-30}
TESTS_TIMEOUT=${TESTS_TIMEOUT:-150}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-100}
BENCH_BUDGET=${BENCH_BUDGET:-$((BENCH_TIMEOUT - 20))}  # gpu_bench.py starts no benchmark after it
KILL_AFTER=${KILL_AFTER:-10}

exec > >(tee -a "$OUT/gpu_check.log") 2>&1
TEE_PID=$!
START=$(date +%s)
stage() { echo; echo "=== [$(( $(date +%s) - START )) s] $*"; }
describe_status() {  # exit status of a stage under `timeout` -> words
    case "$1" in
        0) echo "ok" ;;
        124) echo "TIMED OUT (limit $2 s)" ;;
        137) echo "KILLED after the time limit ($2 s)" ;;
        *) echo "exit status $1" ;;
    esac
}

echo "gpu_check.sh: repository $REPO, results in $OUT, python: $(command -v "$PY")"
echo "started $(date -u +%Y-%m-%dT%H:%M:%SZ)"

# ---- 1. install ----------------------------------------------------------------------
stage "1/4 install numbanet into $SITE (no deps, no index, no build isolation)"
INSTALL="pip"
rm -rf "$SITE"
if timeout -k "$KILL_AFTER" "$INSTALL_TIMEOUT" "$PY" -m pip install -q --no-deps \
        --no-build-isolation --no-index --target "$SITE" "$REPO" \
   && PYTHONPATH="$SITE" "$PY" -P -c "import numbanet"; then
    echo "installed with pip into $SITE"
else
    echo "pip install failed; copying the package instead"
    INSTALL="copy"
    rm -rf "$SITE" && mkdir -p "$SITE" && cp -r "$REPO/numbanet" "$SITE/" \
        && find "$SITE" \( -name '*.nbi' -o -name '*.nbc' -o -name '*.pyc' \) -delete \
        && PYTHONPATH="$SITE" "$PY" -P -c "import numbanet" || INSTALL="repo"
fi
if [ "$INSTALL" = "repo" ]; then
    echo "copy failed too; using the repository root"
    SITE=$REPO
fi
export PYTHONPATH=$SITE
# -P: do not put the current folder first on sys.path, so that the tests and the benchmark
# import the same numbanet (and share its compiled-kernel cache) from $SITE
PYP=("$PY" -P)
"${PYP[@]}" -c "import numbanet; print('numbanet', numbanet.__version__, 'from', numbanet.__file__)"

# ---- 2. machine and versions -----------------------------------------------------------
stage "2/4 machine and versions"
unset NUMBA_ENABLE_CUDASIM
if command -v nvidia-smi >/dev/null 2>&1; then
    timeout -k 5 "$INFO_TIMEOUT" nvidia-smi
    timeout -k 5 "$INFO_TIMEOUT" nvidia-smi --format=csv \
        --query-gpu=name,memory.total,clocks.max.memory,driver_version
else
    echo "nvidia-smi not found"
fi
timeout -k 5 "$INFO_TIMEOUT" "${PYP[@]}" - <<'EOF'
import os, sys
from importlib import metadata
print("python", sys.version.split()[0], sys.executable)
for dist in ("numpy", "numba", "numba-cuda", "cuda-bindings", "torch", "cupy-cuda13x",
             "cupy-cuda12x", "jax", "pytest", "hypothesis", "setuptools"):
    try:
        print(f"  {dist:14s} {metadata.version(dist)}")
    except metadata.PackageNotFoundError:
        pass
print("NUMBA_ENABLE_CUDASIM =", os.environ.get("NUMBA_ENABLE_CUDASIM"))


def show(label, get):
    try:
        print(f"{label}: {get()}")
    except Exception as exc:  # a diagnostic: report and go on
        print(f"{label}: {type(exc).__name__}: {exc}")


from numba import cuda  # noqa: E402
show("numba.cuda.is_available()", cuda.is_available)
show("numba device", lambda: (cuda.get_current_device().name,
                              cuda.get_current_device().compute_capability))
show("CUDA driver version", lambda: cuda.cudadrv.driver.driver.get_version())
show("NVVM version", lambda: cuda.cudadrv.nvvm.NVVM().get_version())
import numbanet as nb  # noqa: E402
show("numbanet.cuda.is_available()", nb.cuda.is_available)
show("numbanet.cuda.is_simulated()", nb.cuda.is_simulated)
show("numbanet.cuda.get_device_name()", nb.cuda.get_device_name)
try:
    import torch
    show("torch.cuda", lambda: (torch.cuda.is_available(), torch.version.cuda,
                                torch.cuda.get_device_name()))
except Exception as exc:
    print("torch:", type(exc).__name__, exc)
EOF
INFO_RC=$?
[ "$INFO_RC" -eq 0 ] || echo "(versions stage: $(describe_status "$INFO_RC" "$INFO_TIMEOUT"))"

# ---- 3. CUDA tests on the GPU ----------------------------------------------------------
stage "3/4 CUDA tests on the GPU (pytest -m cuda, simulator off, limit ${TESTS_TIMEOUT} s)"
unset NUMBA_ENABLE_CUDASIM
if [ ! -e /dev/nvidia0 ] && [ ! -e /dev/nvidiactl ]; then
    echo "WARNING: no /dev/nvidia* here: tests/conftest.py will run the CUDA tests on Numba's" \
         "simulator, and the benchmarks will fail"
fi
# Every kernel signature compiles on first use (a fresh machine has no cache): property tests
# draw 3 examples each, and the most telling tests run first.
export NUMBANET_CUDA_EXAMPLES=${NUMBANET_CUDA_EXAMPLES:-3}
timeout -s INT -k "$KILL_AFTER" "$TESTS_TIMEOUT" "${PYP[@]}" -m pytest -q -m cuda \
    -p no:cacheprovider --junitxml="$OUT/gpu_tests.xml" tests/test_cuda.py \
    tests/test_seed_programs.py tests/backend tests/autograd tests/test_tensor_ops.py \
    tests/test_inplace_and_errors.py tests/nn/test_conv_layers.py \
    tests/nn/test_cnn_rnn_match_torch.py tests/static 2>&1 | tee "$OUT/gpu_tests.log"
TESTS_RC=${PIPESTATUS[0]}
case "$TESTS_RC" in
    0) TESTS_TXT="passed" ;;
    1) TESTS_TXT="SOME TESTS FAILED (exit status 1)" ;;
    5) TESTS_TXT="no tests collected (exit status 5: is the 'cuda' marker applied?)" ;;
    *) TESTS_TXT=$(describe_status "$TESTS_RC" "$TESTS_TIMEOUT") ;;
esac
echo "CUDA tests: $TESTS_TXT"
TESTS_LINE=$(grep -E "(passed|failed|error|no tests ran|deselected)" "$OUT/gpu_tests.log" | tail -1)

# ---- 4. benchmarks ---------------------------------------------------------------------
stage "4/4 benchmarks (limit ${BENCH_TIMEOUT} s, budget ${BENCH_BUDGET} s)"
unset NUMBA_ENABLE_CUDASIM
timeout -s INT -k "$KILL_AFTER" "$BENCH_TIMEOUT" "${PYP[@]}" "$REPO/benchmarks/gpu_bench.py" \
    --out "$OUT/gpu_bench.json" --markdown "$OUT/gpu_bench.md" --budget-s "$BENCH_BUDGET"
BENCH_RC=$?
case "$BENCH_RC" in
    0) BENCH_TXT="all benchmarks ran" ;;
    1) BENCH_TXT="some benchmarks failed or were skipped (exit status 1; see the table)" ;;
    *) BENCH_TXT=$(describe_status "$BENCH_RC" "$BENCH_TIMEOUT") ;;
esac

# ---- 5. summary ------------------------------------------------------------------------
stage "summary"
echo "install:    $INSTALL (numbanet from $SITE)"
echo "CUDA tests: $TESTS_TXT${TESTS_LINE:+ -- $TESTS_LINE}"
echo "benchmarks: $BENCH_TXT"
echo "total:      $(( $(date +%s) - START )) s"
echo "files in $OUT:"
ls -l "$OUT"
echo
if [ -s "$OUT/gpu_bench.md" ]; then
    cat "$OUT/gpu_bench.md"
else
    echo "(no $OUT/gpu_bench.md was written)"
fi
{
    echo "install=$INSTALL"
    echo "tests_rc=$TESTS_RC"
    echo "tests=$TESTS_TXT"
    echo "bench_rc=$BENCH_RC"
    echo "bench=$BENCH_TXT"
    echo "total_s=$(( $(date +%s) - START ))"
} > "$OUT/gpu_check_summary.txt"
RC=1
[ "$TESTS_RC" -eq 0 ] && [ "$BENCH_RC" -eq 0 ] && RC=0
exec >&- 2>&-          # let tee finish writing gpu_check.log before the script ends
wait "$TEE_PID" 2>/dev/null
exit "$RC"
