"""nn.utils against PyTorch in float64: clip_grad_norm_ (every norm type, the returned
total norm, the clipped gradients, the non-finite error), clip_grad_value_,
parameters_to_vector and vector_to_parameters."""
from __future__ import annotations

import math

import numpy as np
import pytest

import numbanet as nb
from numbanet import nn

torch = pytest.importorskip("torch")


def host(t):
    return t.detach().cpu().numpy()


def twin_params(scale=1.0, seed=0):
    """Parameters with gradients, the same values in numbanet and in torch."""
    rng = np.random.default_rng(seed)
    shapes = [(4, 3), (3,), (2, 2, 2)]
    values = [rng.standard_normal(s) for s in shapes]
    grads = [scale * rng.standard_normal(s) for s in shapes]
    ours, theirs = [], []
    for v, g in zip(values, grads):
        p = nn.Parameter(nb.tensor(v))
        p.grad = nb.tensor(g)
        ours.append(p)
        q = torch.nn.Parameter(torch.tensor(v))
        q.grad = torch.tensor(g)
        theirs.append(q)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, math.inf, -math.inf, 0, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    ours, theirs = twin_params()
    norm_type = float(norm_type)
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert total.dtype is nb.float64 and total.shape == ()
    np.testing.assert_allclose(float(total), float(expected), rtol=1e-12)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(host(p.grad), q.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_clip_grad_norm_accepts_generators_a_single_tensor_and_no_grads():
    model = nn.Linear(3, 2).double()
    model(nb.ones(4, 3, dtype=nb.float64)).sum().backward()
    total = nn.utils.clip_grad_norm_(model.parameters(), 1.0, foreach=True)
    after = math.sqrt(sum(float((p.grad * p.grad).sum()) for p in model.parameters()))
    assert float(total) > 1.0 and after == pytest.approx(1.0, rel=1e-5)
    p = nn.Parameter(nb.ones(3, dtype=nb.float64))
    p.grad = nb.full((3,), 2.0, dtype=nb.float64)
    assert float(nn.utils.clip_grad_norm_(p, 100.0)) == pytest.approx(math.sqrt(12))
    empty = nn.utils.clip_grad_norm_([nn.Parameter(nb.ones(2))], 1.0)
    assert float(empty) == 0.0 and float(torch.nn.utils.clip_grad_norm_(
        [torch.nn.Parameter(torch.ones(2))], 1.0)) == 0.0


def test_a_non_finite_norm_is_an_error_only_when_asked():
    ours, theirs = twin_params()
    ours[0].grad[0, 0] = float("nan")
    theirs[0].grad[0, 0] = float("nan")
    with pytest.raises(RuntimeError) as info:
        nn.utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError) as torch_info:
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    assert str(info.value) == str(torch_info.value)
    assert math.isnan(float(nn.utils.clip_grad_norm_(ours, 1.0)))


def test_clip_grad_value_matches_torch():
    ours, theirs = twin_params(scale=3.0)
    assert nn.utils.clip_grad_value_(ours, 1.25) is None
    torch.nn.utils.clip_grad_value_(theirs, 1.25)
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(host(p.grad), q.grad.numpy())
    assert max(float(p.grad.abs().max()) for p in ours) == 1.25


def test_parameters_to_vector_and_back():
    ours, theirs = twin_params()
    vec = nn.utils.parameters_to_vector(ours)
    expected = torch.nn.utils.parameters_to_vector(theirs)
    np.testing.assert_array_equal(host(vec), expected.detach().numpy())
    assert vec.shape == (4 * 3 + 3 + 8,)
    (vec * vec).sum().backward()  # differentiable with respect to the parameters
    earlier = host(twin_params()[0][1].grad)  # the gradient the parameter held before
    np.testing.assert_allclose(host(ours[1].grad), 2 * host(ours[1]) + earlier)

    new = nb.arange(23, dtype=nb.float64)
    objects = list(ours)
    nn.utils.vector_to_parameters(new, ours)
    torch.nn.utils.vector_to_parameters(torch.arange(23, dtype=torch.float64), theirs)
    for p, q, obj in zip(ours, theirs, objects):
        assert p is obj and isinstance(p, nn.Parameter) and p.requires_grad
        np.testing.assert_array_equal(host(p), q.detach().numpy())
    with pytest.raises(TypeError, match="expected Tensor, but got: list"):
        nn.utils.vector_to_parameters([1.0], ours)


@pytest.mark.parametrize("name", ["clip_grad_norm_", "clip_grad_value_", "get_total_norm",
                                  "clip_grads_with_norm_", "parameters_to_vector",
                                  "vector_to_parameters"])
def test_signatures_are_torchs(name):
    import inspect

    def params(fn):
        return [(p.name, p.default, p.kind) for p in inspect.signature(fn).parameters.values()]

    assert params(getattr(nn.utils, name)) == params(getattr(torch.nn.utils, name))
