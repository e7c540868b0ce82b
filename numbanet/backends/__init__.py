"""``numbanet.backends``: PyTorch's ``torch.backends`` switches, as programs written for
PyTorch set or ask them (``torch.backends.cudnn.benchmark = True``,
``torch.backends.mps.is_available()``). numbanet has no cuDNN or MPS: the switches are
kept and read back, and change nothing."""
from . import cpu, cuda, cudnn, mps

__all__ = ["cpu", "cuda", "cudnn", "mps"]
