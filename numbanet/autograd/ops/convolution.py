"""2-D convolution as im2col + matrix product, and its gradient as an op of its own.

A convolution slides a (C, kh, kw) filter over the image; at each of the OH*OW
positions it takes a dot product with the pixels under the window. ``im2col``
(backend) copies the pixels under every window of every image into a column, so the
convolution of the whole batch becomes one matrix product::

    cols      (C*kh*kw, N*OH*OW)   # one column per output position of every image
    weight    (O, C*kh*kw)         # one row per filter
    out = weight @ cols            # (O, N*OH*OW) -> (N, O, OH, OW) in the copy that adds bias

and its gradients are matrix products too: with the output's gradient ``g`` laid out
as (O, N*OH*OW), ``grad_weight = g @ cols.T`` and ``grad_input = col2im(weight.T @ g)``,
where ``col2im`` adds each column entry back onto the pixel it came from (the adjoint of
``im2col``, i.e. a transposed convolution). One large product per pass, rather than one
small product per image, is what lets BLAS run near its speed (and on all its threads).
With ``groups`` > 1 the channels are split into groups that are convolved separately:
the matrices gain a group dimension and batched matmul does the rest.

``Conv2d`` is one recorded op. Its one backward is three named primitives (as PyTorch's
``convolution_backward``), ``Conv2dInputGrad``, ``Conv2dWeightGrad`` and ``Conv2dBiasGrad``,
whose forwards call the backend and whose own backwards are written with ``Conv2d`` and
each other (each gradient is linear in both of its operands): a plain backward and one
with ``create_graph=True`` run the same code, and gradients of every order exist.

The window is a ``Window`` (kh, kw, sh, sw, ph, pw, dh, dw) of the backend contract, made by
``nn.functional``, which checks the arguments before these ops run.
"""
from __future__ import annotations

from ...backend import Window as Window  # the window type, for nn.functional
from ..function import Function
from .dispatch import wrap


def _matrix_shapes(x_shape, w_shape, groups, out_hw):
    """The shapes of the matrices of a (grouped) convolution: weight (G, O/G, K/G), columns
    (G, K/G, N*L) and output (G, O/G, N*L), with K = C*kh*kw and L = OH*OW (without the
    leading G when ``groups`` is 1); and the columns as ``im2col`` lays them out, (K, N, L)."""
    n, l_ = x_shape[0], out_hw[0] * out_hw[1]
    o = w_shape[0]
    k = w_shape[1] * w_shape[2] * w_shape[3] * groups
    by_image = (k, n, l_)
    if groups == 1:
        return (o, k), (k, n * l_), (o, n * l_), by_image
    return ((groups, o // groups, k // groups), (groups, k // groups, n * l_),
            (groups, o // groups, n * l_), by_image)


_SWAP_NC = (1, 0, 2, 3)  # (N, O, OH, OW) <-> (O, N, OH, OW)


def _swap_last(be, a):
    perm = tuple(range(a.ndim - 2)) + (a.ndim - 1, a.ndim - 2)
    return be.permute(a, perm)


def _view(be, a, shape):
    view = be.reshape_view(a, shape)
    return view if view is not None else be.reshape_view(be.contiguous(a), shape)


class Conv2d(Function):
    """``conv2d(x, weight, bias)`` with the ``Window`` ``geo`` (see backend/windows.py) as one op.
    Arguments are checked by ``nn.functional.conv2d`` before."""

    @staticmethod
    def forward(ctx, x, weight, bias, geo, groups, out_hw):
        be = x._device.backend
        n, o = x._shape[0], weight._shape[0]
        w_mat, col_mat, _, _ = mats = _matrix_shapes(x._shape, weight._shape, groups, out_hw)
        cols = be.im2col(x._data, geo, out_hw)
        by_filter = be.matmul(_view(be, weight._data, w_mat), _view(be, cols, col_mat))
        by_filter = be.permute(_view(be, by_filter, (o, n) + tuple(out_hw)), _SWAP_NC)
        out = be.empty((n, o) + tuple(out_hw), x._dtype)
        if bias is None:
            be.unary("identity", by_filter, out)
        else:  # the bias is added in the pass that lays the output out as (N, O, OH, OW)
            be.binary("add", by_filter, _view(be, bias._data, (o, 1, 1)), out)
        ctx.spec = (geo, groups, out_hw, x._shape, weight._shape, mats)
        ctx.has_bias = bias is not None
        ctx.cols = cols  # the unfolded input, reused by the weight's gradient
        ctx.save_for_backward(x, weight)
        return wrap(out, x._device, x._dtype)

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad[:3]
        spec = ctx.spec
        by_filter = _by_filter(g) if nx or nw else None  # laid out once for the three
        gx = Conv2dInputGrad.apply(g, weight, spec, by_filter) if nx else None
        gw = Conv2dWeightGrad.apply(g, x, spec, ctx.cols, by_filter) if nw else None
        gb = Conv2dBiasGrad.apply(g, by_filter) if nb and ctx.has_bias else None
        return gx, gw, gb, None, None, None


# ---- the gradients, as named primitives -----------------------------------------------------
#
# Each takes the output's gradient ``g`` (N, O, OH, OW) and, optionally, ``by_filter``: the
# backend array of ``g`` laid out as the matrix (O, N*OH*OW), when the caller made it already
# (``Conv2d.backward`` makes it once for the three). ``spec`` is ``Conv2d``'s ``(geo, groups,
# out_hw, x_shape, w_shape, _matrix_shapes(...))``. The input's and the weight's gradients
# are each linear in both of their operands, so the backward of each is ``Conv2d`` and the
# other primitive:
#
#     <gg, input_grad(g, weight)>  ->  d/dg: conv2d(gg, weight);  d/dweight: weight_grad(g, x=gg)
#     <gg, weight_grad(g, x)>      ->  d/dg: conv2d(x, gg);       d/dx: input_grad(g, weight=gg)
#
# and gradients of every order exist. One output each: a backward that runs has its output's
# gradient, so it never leaves an operand without one.

def _by_filter(g):
    """``g``'s backend array as the matrix (O, N*OH*OW): one row per filter (a copy)."""
    be, (n, o, oh, ow) = g._device.backend, g._shape
    return be.reshape_view(be.contiguous(be.permute(g._data, _SWAP_NC)), (o, n * oh * ow))


def _output_matrix(be, g, by_filter, shape):
    """The output's gradient as ``shape``, (O, N*L) or with groups (G, O/G, N*L)."""
    if by_filter is None:
        by_filter = _by_filter(g)
    return by_filter if len(shape) == 2 else be.reshape_view(by_filter, shape)


class Conv2dInputGrad(Function):
    """``grad_input = col2im(weight.T @ G)``, ``G`` the output's gradient as (O, N*OH*OW)
    (as PyTorch's ``convolution_backward`` for the input): a transposed convolution."""

    @staticmethod
    def forward(ctx, g, weight, spec, by_filter=None):
        ctx.save_for_backward(g, weight)
        ctx.spec = spec
        geo, groups, out_hw, x_shape, w_shape, (w_mat, _, out_mat, by_image) = spec
        be = g._device.backend
        unfolded = be.matmul(_swap_last(be, _view(be, weight._data, w_mat)),
                             _output_matrix(be, g, by_filter, out_mat))
        gx = be.col2im(_view(be, unfolded, by_image), geo, out_hw, x_shape)
        return wrap(gx, g._device, g._dtype)

    @staticmethod
    def backward(ctx, gg):
        g, weight = ctx.saved_tensors
        ng, nw = ctx.needs_input_grad[:2]
        geo, groups, out_hw = ctx.spec[:3]
        grad_g = Conv2d.apply(gg, weight, None, geo, groups, out_hw) if ng else None
        grad_w = Conv2dWeightGrad.apply(g, gg, ctx.spec) if nw else None
        return grad_g, grad_w, None, None


class Conv2dWeightGrad(Function):
    """``grad_weight = G @ im2col(x).T``, ``G`` the output's gradient as (O, N*OH*OW);
    ``cols``, the forward's ``im2col(x)``, saves unfolding ``x`` again."""

    @staticmethod
    def forward(ctx, g, x, spec, cols=None, by_filter=None):
        ctx.save_for_backward(g, x)
        ctx.spec = spec
        geo, groups, out_hw, x_shape, w_shape, (_, col_mat, out_mat, _) = spec
        be = g._device.backend
        if cols is None:
            cols = be.im2col(x._data, geo, out_hw)
        gw = be.matmul(_output_matrix(be, g, by_filter, out_mat),
                       _swap_last(be, _view(be, cols, col_mat)))
        return wrap(_view(be, gw, w_shape), g._device, g._dtype)

    @staticmethod
    def backward(ctx, gg):
        g, x = ctx.saved_tensors
        ng, nx = ctx.needs_input_grad[:2]
        geo, groups, out_hw = ctx.spec[:3]
        grad_g = Conv2d.apply(x, gg, None, geo, groups, out_hw) if ng else None
        grad_x = Conv2dInputGrad.apply(g, gg, ctx.spec) if nx else None
        return grad_g, grad_x, None, None, None


class Conv2dBiasGrad(Function):
    """``grad_bias = g.sum((0, 2, 3))``, summed along the rows of ``by_filter`` when given
    (up to four times faster than over (N, O, OH, OW) on the CPU); its gradient spreads ``gg``
    over every position."""

    @staticmethod
    def forward(ctx, g, by_filter=None):
        ctx.shape = g._shape
        be, dtype = g._device.backend, g._dtype
        if by_filter is None:
            return wrap(be.reduce("sum", g._data, (0, 2, 3), dtype), g._device, dtype)
        return wrap(be.reduce("sum", by_filter, (1,), dtype), g._device, dtype)

    @staticmethod
    def backward(ctx, gg):
        return gg.reshape(1, -1, 1, 1).expand(*ctx.shape), None
