"""``python -m numbanet.demo``: an MLP learns the 8x8 digits to at least 95% test accuracy."""
import os
import subprocess
import sys

import pytest

from numbanet.demo import digits_split, train


def test_the_split_is_fixed_and_disjoint():
    x_train, y_train, x_test, y_test = digits_split()
    assert x_train.shape == (1438, 64) and x_test.shape == (359, 64)
    assert 0 <= x_train.min() and x_train.max() <= 1
    again = digits_split()
    assert (again[1] == y_train).all() and (again[3] == y_test).all()
    train_rows = {row.tobytes() for row in x_train}
    assert not any(row.tobytes() in train_rows for row in x_test)


def test_demo_training_loss_falls_and_test_accuracy_reaches_95_percent():
    lines = []
    result = train(epochs=10, report=lines.append)
    assert len(result.train_loss) == len(result.test_accuracy) == 10
    assert result.train_loss[-1] < 0.3 * result.train_loss[0]
    assert result.accuracy >= 0.95
    assert len(lines) == 11 and "epoch  10/10" in lines[-1] and "test accuracy" in lines[-1]


def test_demo_runs_as_a_module_and_prints_the_test_accuracy():
    done = subprocess.run([sys.executable, "-m", "numbanet.demo", "--epochs", "2"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "epoch   2/2" in done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith("test accuracy: ")


def test_demo_help_lists_its_options():
    done = subprocess.run([sys.executable, "-m", "numbanet.demo", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    for option in ("--epochs", "--device", "--batch-size", "--seed"):
        assert option in done.stdout


def test_demo_on_cuda_without_a_gpu_says_so():
    import glob
    if glob.glob("/dev/nvidia[0-9]*") or glob.glob("/proc/driver/nvidia/gpus/*"):
        pytest.skip("this machine has a GPU")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    done = subprocess.run([sys.executable, "-m", "numbanet.demo", "--device", "cuda"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode != 0
    assert "no CUDA GPU is available" in done.stderr
