import numpy as np
import pytest

from edgekd.data.fashion_mnist import load_split, normalize, resolve_data_dir
from edgekd.errors import DataError
from tests.conftest import write_idx


def test_loads_gzipped_idx(tiny_data):
    split = load_split("train", tiny_data)
    assert split.images.shape == (64, 28, 28)
    assert split.labels.dtype == np.int64 and len(split) == 64
    assert len(split.fingerprint) == 64


def test_normalize_shape_and_dtype(tiny_data):
    x = normalize(load_split("test", tiny_data).images)
    assert x.shape == (32, 1, 28, 28) and x.dtype == np.float32


def test_missing_files_names_what_was_looked_for(tmp_path):
    with pytest.raises(DataError, match="train-images-idx3-ubyte.*" + str(tmp_path)):
        resolve_data_dir(tmp_path)


def test_wrong_magic(tiny_data):
    (tiny_data / "train-labels-idx1-ubyte.gz").unlink()
    write_idx(tiny_data / "train-labels-idx1-ubyte", np.zeros(64), magic=2051)
    with pytest.raises(DataError, match="wrong IDX magic 2051"):
        load_split("train", tiny_data)


def test_truncated_file(tiny_data):
    path = tiny_data / "t10k-images-idx3-ubyte.gz"
    import gzip

    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(DataError, match="truncated"):
        load_split("test", tiny_data)


def test_count_mismatch(tiny_data):
    (tiny_data / "t10k-labels-idx1-ubyte.gz").unlink()
    write_idx(tiny_data / "t10k-labels-idx1-ubyte", np.zeros(31), magic=2049)
    with pytest.raises(DataError, match="32 images but .* 31 labels"):
        load_split("test", tiny_data)
