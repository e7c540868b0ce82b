"""numbanet.datasets: the digits shipped inside the package, and the MNIST IDX reader on
small IDX files written by the tests (valid, gzipped, truncated, foreign)."""
from __future__ import annotations

import gzip
import struct
from importlib import resources

import numpy as np
import pytest

from numbanet.datasets import load_digits, load_mnist, read_idx

# ---- digits --------------------------------------------------------------------------------

def test_digits_have_sklearns_shapes_dtypes_and_ranges():
    digits = load_digits()
    assert digits.data.shape == (1797, 64) and digits.data.dtype == np.float64
    assert digits.images.shape == (1797, 8, 8) and digits.images.dtype == np.float64
    assert digits.target.shape == (1797,) and digits.target.dtype == np.int64
    assert digits.data.min() == 0 and digits.data.max() == 16
    assert np.all(digits.data == np.round(digits.data))
    np.testing.assert_array_equal(digits.images.reshape(1797, 64), digits.data)
    assert digits.target_names.tolist() == list(range(10))
    assert len(digits.feature_names) == 64 and digits.feature_names[9] == "pixel_1_1"
    assert "CC BY 4.0" in digits.DESCR and "Alpaydin" in digits.DESCR


def test_digits_hold_about_180_images_of_each_class():
    counts = np.bincount(load_digits().target)
    assert len(counts) == 10 and counts.sum() == 1797
    assert counts.min() == 174 and counts.max() == 183


def test_the_first_digit_is_the_zero_of_the_uci_file():
    digits = load_digits()
    assert digits.target[0] == 0
    assert digits.images[0][0].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]
    assert digits.images[0][7].tolist() == [0, 0, 6, 13, 10, 0, 0, 0]


def test_return_x_y_and_n_class():
    X, y = load_digits(return_X_y=True)
    assert X.shape == (1797, 64) and y.shape == (1797,)
    X3, y3 = load_digits(n_class=3, return_X_y=True)
    assert set(y3.tolist()) == {0, 1, 2} and len(X3) == np.sum(y < 3)
    with pytest.raises(ValueError, match="n_class"):
        load_digits(n_class=11)


def test_each_call_returns_fresh_arrays():
    first = load_digits()
    first.data[:] = -1
    assert load_digits().data.min() == 0


def test_a_missing_bunch_attribute_names_the_ones_there():
    digits = load_digits()
    assert digits["data"] is digits.data
    with pytest.raises(AttributeError, match="images"):
        digits.pixels  # noqa: B018 - the attribute access is what raises


def test_the_digits_file_is_inside_the_package():
    source = resources.files("numbanet.datasets").joinpath("data").joinpath("digits.csv.gz")
    assert source.is_file()
    assert len(source.read_bytes()) < 100_000


# ---- IDX files -----------------------------------------------------------------------------

def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    dtype = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4",
             0x0E: ">f8"}[type_code]
    return header + array.astype(dtype).tobytes()


@pytest.fixture
def mnist_like():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    return images, labels


def write_set(folder, images, labels, prefix="train", gz=False, dotted=False):
    names = [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]
    if dotted:
        names = [n.replace("-idx", ".idx") for n in names]
    paths = []
    for name, array in zip(names, (images, labels)):
        data = idx_bytes(array)
        path = folder / (name + (".gz" if gz else ""))
        path.write_bytes(gzip.compress(data) if gz else data)
        paths.append(path)
    return paths


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("kind, prefix", [("train", "train"), ("test", "t10k")])
def test_load_mnist_reads_plain_and_gzipped_files(tmp_path, mnist_like, gz, kind, prefix):
    images, labels = mnist_like
    write_set(tmp_path, images, labels, prefix=prefix, gz=gz)
    got_images, got_labels = load_mnist(tmp_path, kind=kind)
    assert got_images.dtype == np.uint8 and got_images.shape == (5, 4, 3)
    assert got_labels.dtype == np.int64 and got_labels.tolist() == [3, 1, 4, 1, 5]
    np.testing.assert_array_equal(got_images, images)
    assert got_images.flags.writeable and got_images.flags.owndata


def test_load_mnist_accepts_the_dotted_file_names(tmp_path, mnist_like):
    write_set(tmp_path, *mnist_like, dotted=True)
    assert load_mnist(str(tmp_path))[0].shape == (5, 4, 3)


def test_a_truncated_file_is_named_with_its_sizes(tmp_path, mnist_like):
    image_file, _ = write_set(tmp_path, *mnist_like)
    image_file.write_bytes(image_file.read_bytes()[:-5])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: truncated.*\(5, 4, 3\) "
                                         r"\(60 bytes of data\).*55 bytes"):
        load_mnist(tmp_path)


def test_a_truncated_header_is_reported(tmp_path, mnist_like):
    image_file, _ = write_set(tmp_path, *mnist_like)
    image_file.write_bytes(image_file.read_bytes()[:9])
    with pytest.raises(ValueError, match="truncated: the header announces 3 dimensions"):
        load_mnist(tmp_path)
    image_file.write_bytes(b"\0\0")
    with pytest.raises(ValueError, match="too short"):
        load_mnist(tmp_path)


def test_extra_bytes_after_the_data_are_an_error(tmp_path, mnist_like):
    _, label_file = write_set(tmp_path, *mnist_like)
    label_file.write_bytes(label_file.read_bytes() + b"\0")
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte: too long"):
        load_mnist(tmp_path)


def test_a_wrong_magic_number_is_reported(tmp_path, mnist_like):
    images, labels = mnist_like
    image_file, label_file = write_set(tmp_path, images, labels)
    image_file.write_bytes(idx_bytes(labels))  # a label file under the image file's name
    with pytest.raises(ValueError, match="train-images-idx3-ubyte: magic number 0x00000801, "
                                         "expected 0x00000803"):
        load_mnist(tmp_path)


def test_a_foreign_file_is_not_taken_for_idx(tmp_path, mnist_like):
    image_file, _ = write_set(tmp_path, *mnist_like)
    image_file.write_bytes(b"<html>404 Not Found</html>")
    with pytest.raises(ValueError, match="train-images-idx3-ubyte: not an IDX file"):
        load_mnist(tmp_path)


def test_a_damaged_gzip_file_is_reported(tmp_path, mnist_like):
    image_file, _ = write_set(tmp_path, *mnist_like, gz=True)
    image_file.write_bytes(image_file.read_bytes()[:20])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz: a damaged gzip file"):
        load_mnist(tmp_path)


def test_image_and_label_counts_must_agree(tmp_path, mnist_like):
    images, labels = mnist_like
    write_set(tmp_path, images, labels[:4])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte holds 5 images but "
                                         "train-labels-idx1-ubyte holds 4 labels"):
        load_mnist(tmp_path)


def test_missing_files_and_folders_are_named(tmp_path, mnist_like):
    image_file, label_file = write_set(tmp_path, *mnist_like)
    label_file.unlink()
    with pytest.raises(FileNotFoundError, match="no file train-labels-idx1-ubyte"):
        load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        load_mnist(tmp_path, kind="test")
    with pytest.raises(FileNotFoundError, match="not a folder"):
        load_mnist(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="kind must be 'train' or 'test'"):
        load_mnist(tmp_path, kind="validation")
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_idx(tmp_path / "absent-idx1-ubyte")


@pytest.mark.parametrize("type_code, values", [
    (0x09, [-128, -1, 0, 127]),
    (0x0B, [-30000, 1, 2, 30000]),
    (0x0C, [-2**31, 0, 1, 2**31 - 1]),
    (0x0D, [0.5, -1.25, 3e9, 0.0]),
    (0x0E, [1e-300, -2.5, 0.0, 1e300]),
])
def test_read_idx_reads_every_idx_type_in_native_byte_order(tmp_path, type_code, values):
    array = np.array(values).reshape(2, 2)
    path = tmp_path / "array.idx"
    path.write_bytes(idx_bytes(array, type_code))
    got = read_idx(path)
    assert got.shape == (2, 2) and got.dtype.isnative
    assert got.tolist() == array.astype(got.dtype).tolist()
