"""Test settings: Hypothesis profiles sized for 2-core CI machines, and the CUDA device.

CUDA tests run on the GPU when the machine has one and on Numba's CUDA simulator
otherwise: ``NUMBA_ENABLE_CUDASIM`` must be set before numba is first imported,
which is why it is decided here, at the top of the first file pytest loads.
Tests that run on CUDA get the ``cuda`` marker (``pytest -m cuda`` selects them).
"""
import os


def _has_gpu() -> bool:
    import glob
    return bool(glob.glob("/dev/nvidia[0-9]*") or glob.glob("/proc/driver/nvidia/gpus/*"))


if "NUMBA_ENABLE_CUDASIM" not in os.environ and not _has_gpu():
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "default", max_examples=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "thorough", max_examples=300, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = os.environ.get("NUMBANET_HYPOTHESIS_PROFILE", "default")
settings.load_profile(PROFILE)

SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
if SIMULATED:
    # The simulator runs each CUDA thread as a Python thread and polls them while they wait
    # at syncthreads(); a short GIL switch interval makes that wait three times shorter.
    import sys
    sys.setswitchinterval(5e-5)
# Property tests on CUDA draw fewer examples on the simulator, where every simulated thread
# costs ~70 us; on a real GPU they draw as many as on the CPU.
CUDA_EXAMPLES = int(os.environ.get("NUMBANET_CUDA_EXAMPLES", 4 if SIMULATED else 10**9))


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: runs CUDA kernels (on a GPU or on the simulator)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_cuda = "cuda" in item.nodeid.split("[", 1)[-1] if callspec else False
        if on_cuda or item.get_closest_marker("cuda") is not None or "cuda" in item.name:
            item.add_marker(pytest.mark.cuda)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    """Run a property test on CUDA with at most CUDA_EXAMPLES examples."""
    test = getattr(item, "obj", None)
    chosen = getattr(test, "_hypothesis_internal_use_settings", None)
    if chosen is None or item.get_closest_marker("cuda") is None or \
            chosen.max_examples <= CUDA_EXAMPLES:
        return
    test._hypothesis_internal_use_settings = settings(chosen, max_examples=CUDA_EXAMPLES)
    item._numbanet_restore = (test, chosen)


def pytest_runtest_teardown(item):
    restore = getattr(item, "_numbanet_restore", None)
    if restore is not None:
        test, chosen = restore
        test._hypothesis_internal_use_settings = chosen
