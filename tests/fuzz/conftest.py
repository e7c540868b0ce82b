"""One guarded worker process for the whole fuzz run (see harness.py); Hypothesis prints
the blob that replays a failing example, and each failure prints a replay script."""
import pytest
from harness import Worker


@pytest.fixture(scope="session")
def worker():
    w = Worker()
    yield w
    w.close()
