"""The CPU's capability, as ``torch.backends.cpu.get_cpu_capability()`` reports it."""


def get_cpu_capability() -> str:
    return "DEFAULT"  # numbanet's kernels are compiled by Numba for the machine at hand
