"""``DistributedOptimizer``: an optimizer that averages the gradients of all ranks first.

::

    optimizer = dist.DistributedOptimizer(optim.SGD(model.parameters(), lr=0.1))
    for x, y in loader:                 # each rank: its own part of the data
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()                # allreduce (one per bucket), then SGD's update

With K ranks each using batches of B samples and a loss that is a mean over the
batch, every step is the step of one process with batches of K·B samples.
"""
from __future__ import annotations

from typing import Any, Callable

from ..autograd import enable_grad
from ..optim.optimizer import Optimizer
from .reducer import DEFAULT_BUCKET_BYTES, GradientReducer
from .runtime import current


class DistributedOptimizer(Optimizer):
    """Wraps ``optimizer``: ``step()`` averages every parameter's gradient over the ranks
    (in buckets of up to ``bucket_cap_mb`` megabytes, one allreduce each), then runs
    ``optimizer.step()``. Everything else (``param_groups``, ``state``, ``zero_grad``,
    ``state_dict``, learning-rate schedulers) is the wrapped optimizer's.

    Call ``numbanet.distributed.init()`` first, and start every rank from the same
    weights (``broadcast_parameters(model)``). All ranks must call ``step()`` the same
    number of times: ``DistributedSampler`` gives them equally many batches.

    ``stats`` counts allreduce calls and the seconds spent in them.
    """

    def __init__(self, optimizer: Optimizer, bucket_cap_mb: float = DEFAULT_BUCKET_BYTES / 2**20):
        if isinstance(optimizer, DistributedOptimizer):
            raise TypeError("DistributedOptimizer: the optimizer is already distributed; wrap "
                            "the plain optimizer once")
        if not isinstance(optimizer, Optimizer):
            hint = " (a keras optimizer needs no wrapping: model.fit averages gradients " \
                   "across ranks by itself)" if hasattr(optimizer, "step_on_grads") else ""
            raise TypeError(f"DistributedOptimizer expects a numbanet.optim optimizer such as "
                            f"optim.SGD(model.parameters(), lr=0.1), got "
                            f"{type(optimizer).__name__}{hint}")
        if isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, (int, float)) \
                or not bucket_cap_mb > 0:
            raise ValueError(f"DistributedOptimizer: bucket_cap_mb must be a positive number of "
                             f"megabytes, got {bucket_cap_mb!r}")
        self.optimizer = optimizer
        self._reducer = GradientReducer(current(), max(1, int(bucket_cap_mb * 2**20)))

    # The wrapped optimizer's fields, shared rather than copied, so that schedulers and
    # state_dict see one optimizer.
    @property
    def param_groups(self) -> list:
        return self.optimizer.param_groups

    @param_groups.setter
    def param_groups(self, value) -> None:
        self.optimizer.param_groups = value

    @property
    def state(self):
        return self.optimizer.state

    @state.setter
    def state(self, value) -> None:
        self.optimizer.state = value

    @property
    def defaults(self) -> dict:
        return self.optimizer.defaults

    @property
    def stats(self) -> dict:
        """``allreduce_calls``, ``allreduce_seconds`` (in MPI), ``reduce_seconds`` (with
        packing) and ``reductions`` (steps), summed since the optimizer was made."""
        return self._reducer.stats

    @property
    def buckets(self) -> list:
        """The buckets of the last step: lists of parameters reduced together."""
        return [b.params for b in self._reducer.buckets]

    def __repr__(self) -> str:
        return f"DistributedOptimizer({self.optimizer!r})"

    def synchronize(self) -> None:
        """Average the gradients over the ranks now (``step()`` does it first)."""
        params = [p for group in self.param_groups for p in group["params"]]
        if self._reducer.world.size > 1:
            self._reducer.reduce(params)

    def step(self, closure: Callable[[], Any] | None = None):
        """Average the gradients over the ranks, then update like the wrapped optimizer.
        ``closure`` (re-evaluates the model, returns the loss) runs first, as in
        ``Optimizer.step``."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self.synchronize()
        self.optimizer.step()
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """The wrapped optimizer's ``zero_grad``."""
        self.optimizer.zero_grad(set_to_none)

    def add_param_group(self, param_group: dict) -> None:
        """Add a parameter group to the wrapped optimizer (on every rank alike)."""
        self.optimizer.add_param_group(param_group)

    def state_dict(self) -> dict:
        """The wrapped optimizer's state (the same on every rank, so rank 0 may save it)."""
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a ``state_dict()`` into the wrapped optimizer (on every rank)."""
        self.optimizer.load_state_dict(state_dict)
