"""``python -m numbanet.demo``: the seed network trains and the loss falls."""
import subprocess
import sys

from numbanet.demo import train


def test_demo_training_loss_falls():
    losses = train(steps=40, report=None)
    assert losses[-1] < 0.01 * losses[0]


def test_demo_runs_as_a_module_and_prints_the_loss():
    done = subprocess.run([sys.executable, "-m", "numbanet.demo", "--steps", "20"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "loss fell from" in done.stdout
