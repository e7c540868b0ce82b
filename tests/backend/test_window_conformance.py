"""Backend conformance of the sliding-window primitives (``im2col``, ``col2im``, max and
average pooling and their backward passes) against plain-loop NumPy references in float64,
on every backend, for window geometries drawn by Hypothesis (kernel sizes, strides,
padding, dilation, odd image sizes) and for non-contiguous inputs.

The references below are written the slow, obvious way (one loop per index), straight
from the definitions in ``numbanet/backend/__init__.py``.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from test_conformance import assert_matches, host, native

import numbanet as nb

BACKENDS = ["cpu", "cuda"]
FLOATS = (nb.float32, nb.float64)
LAYOUTS = ("contiguous", "transposed", "strided", "offset")


@pytest.fixture(scope="module", params=BACKENDS)
def be(request):
    return nb.device(request.param).backend


def out_size(n, k, s, p, d, ceil_mode=False):
    """PyTorch's output size of a window along one dimension."""
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


@st.composite
def windows(draw, max_side=6, pool=False, dilation=True):
    """(image shape, geo, (OH, OW), ceil_mode): a geometry whose output is not empty;
    pooling pads at most half the kernel, as PyTorch requires."""
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    ph = draw(st.integers(0, kh // 2 if pool else 2))
    pw = draw(st.integers(0, kw // 2 if pool else 2))
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    ceil_mode = draw(st.booleans()) if pool else False
    oh = out_size(h, kh, sh, ph, dh, ceil_mode)
    ow = out_size(w, kw, sw, pw, dw, ceil_mode)
    assume(oh >= 1 and ow >= 1)
    return (n, c, h, w), (kh, kw, sh, sw, ph, pw, dh, dw), (oh, ow)


def image(data, shape, dtype=np.float64):
    """Values in [-3, 3] on a grid of 1/64, distinct within each plane (no ties for max)."""
    n, c, h, w = shape
    planes = [data.draw(st.permutations(range(h * w))) for _ in range(n * c)]
    return ((np.array(planes, dtype) - h * w / 2) / 8).reshape(shape)


# ---- references -------------------------------------------------------------------------------

def ref_im2col(x, geo, out_hw):
    kh, kw, sh, sw, ph, pw, dh, dw = geo
    n_img, channels, height, width = x.shape
    oh_n, ow_n = out_hw
    cols = np.zeros((n_img, channels, kh, kw, oh_n, ow_n))
    for n in range(n_img):
        for c in range(channels):
            for i in range(kh):
                for j in range(kw):
                    for oh in range(oh_n):
                        for ow in range(ow_n):
                            ih, iw = oh * sh - ph + i * dh, ow * sw - pw + j * dw
                            if 0 <= ih < height and 0 <= iw < width:
                                cols[n, c, i, j, oh, ow] = x[n, c, ih, iw]
    return cols.reshape(n_img, channels * kh * kw, oh_n * ow_n).transpose(1, 0, 2)


def ref_col2im(cols, geo, out_hw, shape):
    kh, kw, sh, sw, ph, pw, dh, dw = geo
    n_img, channels, height, width = shape
    oh_n, ow_n = out_hw
    cols = cols.transpose(1, 0, 2).reshape(n_img, channels, kh, kw, oh_n, ow_n)
    out = np.zeros(shape)
    for n in range(n_img):
        for c in range(channels):
            for i in range(kh):
                for j in range(kw):
                    for oh in range(oh_n):
                        for ow in range(ow_n):
                            ih, iw = oh * sh - ph + i * dh, ow * sw - pw + j * dw
                            if 0 <= ih < height and 0 <= iw < width:
                                out[n, c, ih, iw] += cols[n, c, i, j, oh, ow]
    return out


def ref_max_pool(x, geo, out_hw):
    kh, kw, sh, sw, ph, pw, dh, dw = geo
    n_img, channels, height, width = x.shape
    out = np.zeros((n_img, channels) + out_hw)
    idx = np.zeros((n_img, channels) + out_hw, np.int64)
    for n, c, oh, ow in np.ndindex(out.shape):
        best, where = -math.inf, -1
        for i in range(kh):
            for j in range(kw):
                ih, iw = oh * sh - ph + i * dh, ow * sw - pw + j * dw
                if 0 <= ih < height and 0 <= iw < width:
                    v = x[n, c, ih, iw]
                    if where < 0 or v > best or np.isnan(v):
                        best, where = v, ih * width + iw
        out[n, c, oh, ow], idx[n, c, oh, ow] = best, where
    return out, idx


def ref_max_pool_backward(g, idx, shape):
    out = np.zeros(shape)
    width = shape[3]
    for n, c, oh, ow in np.ndindex(g.shape):
        at = idx[n, c, oh, ow]
        if at >= 0:  # -1: the window held only padding
            out[n, c, at // width, at % width] += g[n, c, oh, ow]
    return out


def ref_divisor(oh, ow, shape, geo, count_include_pad, divisor_override):
    kh, kw, sh, sw, ph, pw, _, _ = geo
    height, width = shape[2], shape[3]
    h0, w0 = oh * sh - ph, ow * sw - pw
    h1, w1 = min(h0 + kh, height + ph), min(w0 + kw, width + pw)
    padded = (h1 - h0) * (w1 - w0)
    h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, height), min(w1, width)
    if h0 >= h1 or w0 >= w1:
        return 0, (h0, h1, w0, w1)
    if divisor_override:
        return divisor_override, (h0, h1, w0, w1)
    return (padded if count_include_pad else (h1 - h0) * (w1 - w0)), (h0, h1, w0, w1)


def ref_avg_pool(x, geo, out_hw, count_include_pad, divisor_override):
    out = np.zeros(x.shape[:2] + out_hw)
    for n, c, oh, ow in np.ndindex(out.shape):
        d, (h0, h1, w0, w1) = ref_divisor(oh, ow, x.shape, geo, count_include_pad,
                                          divisor_override)
        out[n, c, oh, ow] = x[n, c, h0:h1, w0:w1].sum() / d if d else 0.0
    return out


def ref_avg_pool_backward(g, geo, shape, count_include_pad, divisor_override):
    out = np.zeros(shape)
    for n, c, oh, ow in np.ndindex(g.shape):
        d, (h0, h1, w0, w1) = ref_divisor(oh, ow, shape, geo, count_include_pad,
                                          divisor_override)
        if d:
            out[n, c, h0:h1, w0:w1] += g[n, c, oh, ow] / d
    return out


def _native(be, x, dtype, layout):
    return native(be, x.astype(dtype.numpy), layout)


# ---- the primitives ---------------------------------------------------------------------------

@given(data=st.data(), win=windows())
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: d.name)
def test_im2col_matches_the_loop_reference(be, dtype, data, win):
    shape, geo, out_hw = win
    x = image(data, shape)
    ref, xs = _native(be, x, dtype, data.draw(st.sampled_from(LAYOUTS)))
    got = host(be, be.im2col(xs, geo, out_hw))
    assert_matches(got, ref_im2col(ref.astype(np.float64), geo, out_hw), dtype)


@given(data=st.data(), win=windows())
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: d.name)
def test_col2im_is_the_adjoint_of_im2col(be, dtype, data, win):
    shape, geo, out_hw = win
    n, c = shape[:2]
    cols = image(data, (1, 1, n * c * geo[0] * geo[1], out_hw[0] * out_hw[1])).reshape(
        c * geo[0] * geo[1], n, -1)
    ref, cs = _native(be, cols, dtype, data.draw(st.sampled_from(LAYOUTS)))
    got = host(be, be.col2im(cs, geo, out_hw, shape))
    assert_matches(got, ref_col2im(ref.astype(np.float64), geo, out_hw, shape), dtype,
                   scale=10)


@given(data=st.data(), win=windows(pool=True))
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: d.name)
def test_max_pool2d_and_its_backward_match_the_loop_reference(be, dtype, data, win):
    shape, geo, out_hw = win
    x = image(data, shape)
    ref, xs = _native(be, x, dtype, data.draw(st.sampled_from(LAYOUTS)))
    values, indices = be.max_pool2d(xs, geo, out_hw)
    want, want_idx = ref_max_pool(ref.astype(np.float64), geo, out_hw)
    assert_matches(host(be, values), want, dtype)
    np.testing.assert_array_equal(host(be, indices), want_idx)
    g = image(data, values.shape)
    got = host(be, be.max_pool2d_backward(be.from_host(g.astype(dtype.numpy)), indices, geo,
                                          shape))
    assert_matches(got, ref_max_pool_backward(g, want_idx, shape), dtype, scale=10)


@given(data=st.data(), win=windows(pool=True, dilation=False),
       count_include_pad=st.booleans(), divisor_override=st.sampled_from([0, 0, 3]))
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: d.name)
def test_avg_pool2d_and_its_backward_match_the_loop_reference(be, dtype, data, win,
                                                              count_include_pad,
                                                              divisor_override):
    shape, geo, out_hw = win
    x = image(data, shape)
    ref, xs = _native(be, x, dtype, data.draw(st.sampled_from(LAYOUTS)))
    got = host(be, be.avg_pool2d(xs, geo, out_hw, count_include_pad, divisor_override))
    assert_matches(got, ref_avg_pool(ref.astype(np.float64), geo, out_hw, count_include_pad,
                                     divisor_override), dtype)
    g = image(data, got.shape)
    back = host(be, be.avg_pool2d_backward(be.from_host(g.astype(dtype.numpy)), geo, shape,
                                           count_include_pad, divisor_override))
    assert_matches(back, ref_avg_pool_backward(g, geo, shape, count_include_pad,
                                               divisor_override), dtype, scale=10)


def test_max_pool2d_lets_nan_win_and_skips_the_padding(be):
    x = np.array([[[[1.0, np.nan], [-5.0, -7.0]]]])
    geo = (2, 2, 1, 1, 1, 1, 1, 1)  # padding 1: every window holds padding
    values, indices = be.max_pool2d(be.from_host(x), geo, (3, 3))
    want, want_idx = ref_max_pool(x, geo, (3, 3))
    np.testing.assert_array_equal(host(be, values), want)
    np.testing.assert_array_equal(host(be, indices), want_idx)
    assert host(be, values)[0, 0, 2, 2] == -7.0  # a window of padding and -7: padding is not 0


@given(data=st.data(), side=st.tuples(st.integers(2, 7), st.integers(2, 7)))
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: d.name)
def test_max_pool2d_of_2x2_windows_keeps_the_first_maximum_and_the_last_nan(be, dtype, data,
                                                                            side):
    """``MaxPool2d(2)``, which the CPU runs through a kernel of its own, on values drawn
    from a few numbers: ties everywhere, and NaNs in some draws."""
    shape = (2, 2) + side
    values = [-1.0, 0.0, 2.0, np.inf] + ([np.nan] if data.draw(st.booleans()) else [])
    x = np.array(data.draw(st.lists(st.sampled_from(values), min_size=math.prod(shape),
                                    max_size=math.prod(shape)))).reshape(shape)
    geo, out_hw = (2, 2, 2, 2, 0, 0, 1, 1), (side[0] // 2, side[1] // 2)
    ref, xs = _native(be, x, dtype, data.draw(st.sampled_from(LAYOUTS)))
    got, indices = be.max_pool2d(xs, geo, out_hw)
    want, want_idx = ref_max_pool(ref.astype(np.float64), geo, out_hw)
    np.testing.assert_array_equal(host(be, got), want)
    np.testing.assert_array_equal(host(be, indices), want_idx)
