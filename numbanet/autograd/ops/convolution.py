"""2-D convolution as im2col + matrix product, and the unfold/fold pair it is built from.

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

``Conv2d`` is one recorded op whose first-order backward calls the backend directly.
Under ``create_graph=True`` the backward is written with ``Im2Col``/``Col2Im`` and
matmul, which are differentiable (each is the other's gradient), so gradients of any
order exist.
"""
from __future__ import annotations

from ..function import Function
from ..grad_mode import state
from .dispatch import wrap
from .linalg import matmul
from .shape import reshape


class Im2Col(Function):
    """(N, C, H, W) -> (C*kh*kw, N, OH*OW) columns; its gradient is ``Col2Im``."""

    @staticmethod
    def forward(ctx, x, geo, out_hw):
        ctx.geo, ctx.out_hw, ctx.shape = geo, out_hw, x._shape
        return wrap(x._device.backend.im2col(x._data, geo, out_hw), x._device, x._dtype)

    @staticmethod
    def backward(ctx, g):
        return Col2Im.apply(g, ctx.geo, ctx.out_hw, ctx.shape), None, None


class Col2Im(Function):
    """Columns back onto the image, overlaps summed; its gradient is ``Im2Col``."""

    @staticmethod
    def forward(ctx, cols, geo, out_hw, shape):
        ctx.geo, ctx.out_hw = geo, out_hw
        return wrap(cols._device.backend.col2im(cols._data, geo, out_hw, shape), cols._device,
                    cols._dtype)

    @staticmethod
    def backward(ctx, g):
        return Im2Col.apply(g, ctx.geo, ctx.out_hw), None, None, None


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
    """``conv2d(x, weight, bias)`` with window ``geo`` (see backend/windows.py) as one op.
    Arguments are checked by ``nn.functional.conv2d`` before."""

    @staticmethod
    def forward(ctx, x, weight, bias, geo, groups, out_hw):
        be = x._device.backend
        n, o = x._shape[0], weight._shape[0]
        w_mat, col_mat, _, _ = _matrix_shapes(x._shape, weight._shape, groups, out_hw)
        cols = be.im2col(x._data, geo, out_hw)
        by_filter = be.matmul(_view(be, weight._data, w_mat), _view(be, cols, col_mat))
        by_filter = be.permute(_view(be, by_filter, (o, n) + tuple(out_hw)), _SWAP_NC)
        out = be.empty((n, o) + tuple(out_hw), x._dtype)
        if bias is None:
            be.unary("identity", by_filter, out)
        else:  # the bias is added in the pass that lays the output out as (N, O, OH, OW)
            be.binary("add", by_filter, be.reshape_view(bias._data, (o, 1, 1)), out)
        ctx.geo, ctx.groups, ctx.out_hw, ctx.has_bias = geo, groups, out_hw, bias is not None
        ctx.cols = cols  # the unfolded input, reused by the weight's gradient
        ctx.save_for_backward(x, weight)
        return wrap(out, x._device, x._dtype)

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad[:3]
        if state.enabled:
            return _conv_grads_with_graph(ctx, g, x, weight, nx, nw, nb)
        be, dev, dtype = g._device.backend, g._device, g._dtype
        w_mat, col_mat, out_mat, by_image = _matrix_shapes(x._shape, weight._shape,
                                                           ctx.groups, ctx.out_hw)
        by_filter = be.contiguous(be.permute(g._data, _SWAP_NC))  # (O, N, OH, OW)
        g_mat = _view(be, by_filter, out_mat)
        gx = gw = gb = None
        if nx:
            cols = be.matmul(_swap_last(be, _view(be, weight._data, w_mat)), g_mat)
            gx = wrap(be.col2im(_view(be, cols, by_image), ctx.geo, ctx.out_hw, x._shape), dev,
                      dtype)
        if nw:
            gw = be.matmul(g_mat, _swap_last(be, _view(be, ctx.cols, col_mat)))
            gw = wrap(_view(be, gw, weight._shape), dev, dtype)
        if nb and ctx.has_bias:
            gb = wrap(be.reduce("sum", by_filter, (1, 2, 3), dtype), dev, dtype)
        return gx, gw, gb, None, None, None


def _conv_grads_with_graph(ctx, g, x, weight, nx, nw, nb):
    """The gradients as differentiable ops, for ``create_graph=True``."""
    w_mat, col_mat, out_mat, by_image = _matrix_shapes(x.shape, weight.shape, ctx.groups,
                                                       ctx.out_hw)
    g_mat = reshape(g.permute(*_SWAP_NC), out_mat)
    gx = gw = gb = None
    if nx:
        cols = matmul(reshape(weight, w_mat).transpose(-1, -2), g_mat)
        gx = Col2Im.apply(reshape(cols, by_image), ctx.geo, ctx.out_hw, x.shape)
    if nw:
        cols = reshape(Im2Col.apply(x, ctx.geo, ctx.out_hw), col_mat)
        gw = reshape(matmul(g_mat, cols.transpose(-1, -2)), weight.shape)
    if nb and ctx.has_bias:
        gb = g.sum((0, 2, 3))
    return gx, gw, gb, None, None, None
