"""cuDNN's switches. numbanet's convolutions are its own kernels, not cuDNN's, so these
are kept only so that programs that set them run; they change nothing."""
enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    return False


def version():
    return None
