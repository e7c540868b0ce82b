"""CUDA's math switches (``torch.backends.cuda.matmul.allow_tf32``): kept, no effect;
numbanet's CUDA matmul computes in the tensors' own precision."""
from types import SimpleNamespace

matmul = SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                         allow_bf16_reduced_precision_reduction=True)


def is_built() -> bool:
    from .. import cuda
    return cuda.is_available()
