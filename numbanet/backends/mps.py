"""Apple's Metal (MPS): numbanet does not run on it."""


def is_available() -> bool:
    return False


def is_built() -> bool:
    return False
