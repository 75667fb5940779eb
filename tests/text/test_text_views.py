"""Teacher-labelled text views: the edits by hand, their determinism, and a cache that replays them."""

import numpy as np
import pytest
import torch

from edgekd.kd.text_views import TextViewPolicy, nearest_tokens, text_views

PAD, CLS, SEP, MASK = 0, 101, 102, 103
ROWS = np.array([[CLS, 11, 12, 13, 14, 15, 16, SEP, PAD, PAD],
                 [CLS, 21, 22, SEP, PAD, PAD, PAD, PAD, PAD, PAD]], dtype=np.int64)


def policy(**fields):
    base = dict(views=3, mask=0.0, swap=0.0, window=0.0, pad_id=PAD, mask_id=MASK, special_ids=(PAD, CLS, SEP, MASK))
    return TextViewPolicy(**{**base, **fields})


def words(row):
    return row[(row != PAD) & (row != CLS) & (row != SEP)]


def test_view_zero_is_the_text_and_no_edit_rates_copy_it():
    views = text_views(ROWS, np.arange(2), policy())
    assert views.shape == (2, 3, 10) and (views == ROWS[:, None, :]).all()
    edited = text_views(ROWS, np.arange(2), policy(mask=1.0, keep_original=True))
    assert (edited[:, 0] == ROWS).all() and not (edited[:, 1] == ROWS).all()


def test_full_masking_keeps_specials_and_padding_in_place():
    views = text_views(ROWS, np.arange(2), policy(mask=1.0, keep_original=False))
    for row, original in zip(views.reshape(-1, 10), np.repeat(ROWS, 3, axis=0)):
        assert (row[original == CLS] == CLS).all() and (row[original == SEP] == SEP).all()
        assert (row[original == PAD] == PAD).all()
        assert (words(row) == MASK).all() and len(words(row)) == len(words(original))


def test_swaps_draw_from_each_tokens_candidates():
    candidates = {t: np.array([t + 100, t + 200]) for t in range(11, 23)}
    views = text_views(ROWS, np.arange(2), policy(swap=1.0, keep_original=False, neighbours=2,
                                                   candidates=candidates))
    for row, original in zip(views.reshape(-1, 10), np.repeat(ROWS, 3, axis=0)):
        assert all(new in candidates[old] for new, old in zip(words(row), words(original)))


def test_a_window_is_a_contiguous_span_of_at_least_half_the_words():
    views = text_views(np.repeat(ROWS[:1], 50, axis=0), np.arange(50), policy(window=1.0, keep_original=False))
    text = words(ROWS[0]).tolist()
    shorter = 0
    for row in views.reshape(-1, 10):
        kept = words(row).tolist()
        assert row[0] == CLS and row[len(kept) + 1] == SEP and (row[len(kept) + 2:] == PAD).all()
        assert len(kept) >= len(text) / 2
        assert any(text[i:i + len(kept)] == kept for i in range(len(text)))
        shorter += len(kept) < len(text)
    assert shorter > 50  # most windows drop something


def test_views_depend_on_sample_and_seed_not_on_the_batch():
    rich = policy(mask=0.3, window=0.5, keep_original=False)
    whole = text_views(ROWS, np.arange(2), rich)
    assert (text_views(ROWS[1:], np.arange(1, 2), rich) == whole[1:]).all()
    assert not (text_views(ROWS, np.arange(2), policy(mask=0.3, window=0.5, keep_original=False, seed=1)) == whole).all()


def test_nearest_tokens_by_hand():
    table = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.8, -0.1], [1.0, 0.01]])
    # token 0's neighbours by cosine: 4, 1, 3; token 4 is banned, so 1 then 3
    assert nearest_tokens(table, np.array([0]), 2, excluded=np.array([4]))[0].tolist() == [1, 3]
    # with word-piece kinds: 0 and 3 continue a word, so 3 is 0's only same-kind candidate
    kinds = np.array([True, False, False, True, False])
    assert nearest_tokens(table, np.array([0]), 1, excluded=np.array([], dtype=np.int64),
                          continuation=kinds)[0].tolist() == [3]


@pytest.fixture
def minilm_teacher(minilm_folder):
    from transformers import AutoModel

    return AutoModel.from_pretrained(str(minilm_folder), local_files_only=True)


def test_policy_from_minilm_swaps_words_for_near_words(minilm_folder, minilm_teacher):
    from edgekd.kd.text_views import policy_for
    from edgekd.stages.cache import TextViewsConfig
    from edgekd.text.tokenizer import encode, load_tokenizer

    tokenizer = load_tokenizer(minilm_folder)
    ids, _ = encode(tokenizer, ["a terrible film", "a wonderful movie"], 8)
    config = TextViewsConfig(kind="text", count=2)
    built = policy_for(config, minilm_teacher, ids, str(minilm_folder), len(tokenizer), "stages.cache.views")
    assert built.mask_id == tokenizer.mask_token_id and tokenizer.cls_token_id in built.special_ids
    near = tokenizer.convert_ids_to_tokens(built.candidates[tokenizer.convert_tokens_to_ids("terrible")].tolist())
    assert {"horrible", "awful"} <= set(near), near
    assert tokenizer.cls_token_id not in built.candidates  # specials are never edited


def test_a_tokenizer_without_a_mask_token_is_refused(minilm_teacher):
    from edgekd.errors import ConfigError
    from edgekd.kd.text_views import policy_for
    from edgekd.stages.cache import TextViewsConfig
    from tests.llm.conftest import SMOLLM2

    with pytest.raises(ConfigError, match="no mask token; set mask: 0"):
        policy_for(TextViewsConfig(kind="text", count=2), minilm_teacher, ROWS, SMOLLM2, 30522, "stages.cache.views")


def test_views_config_names_a_typo_and_keeps_image_views_the_default():
    from pydantic import ValidationError

    from edgekd.stages.cache import CacheConfig, TextViewsConfig, ViewsConfig

    assert isinstance(CacheConfig(views={"count": 4}).views, ViewsConfig)
    assert isinstance(CacheConfig(views={"kind": "text", "count": 4}).views, TextViewsConfig)
    with pytest.raises(ValidationError, match="swpa"):
        CacheConfig(views={"kind": "text", "count": 4, "swpa": 0.1})


def _token_teacher():
    from edgekd.models.text_students import TokenCNN

    torch.manual_seed(0)
    return TokenCNN(vocab_size=30522, num_classes=3).eval()


def test_a_text_view_cache_replays_the_edited_texts_the_teacher_scored(tmp_path):
    from edgekd.kd.teacher_cache import CacheSpec, Teacher, build_cache, open_cache

    rows = np.repeat(ROWS, 5, axis=0)
    teacher = _token_teacher()
    views = policy(views=4, mask=0.3, window=0.5)
    build_cache(tmp_path, CacheSpec(num_classes=3, dtype="float32", views=views, length=10), [Teacher(teacher)],
                rows, "k1", shard_rows=4, batch_size=3)
    targets = open_cache(tmp_path, "k1", len(rows))
    selection = targets.select(torch.tensor([9, 2, 5, 2, 0, 7]), np.random.default_rng(0))
    replayed = targets.inputs(torch.from_numpy(rows), selection)
    edited = text_views(rows[[9, 2, 5, 2, 0, 7]], np.array([9, 2, 5, 2, 0, 7]), views)
    assert replayed.dtype == torch.int64
    assert torch.equal(replayed, torch.from_numpy(edited[np.arange(6), selection.view.numpy()]))
    with torch.inference_mode():
        torch.testing.assert_close(targets.rows("logits", selection), teacher(replayed), atol=1e-5, rtol=1e-5)
    assert not all(torch.equal(replayed[i], torch.from_numpy(rows[j])) for i, j in enumerate([9, 2, 5, 2, 0, 7]))


def test_views_of_the_wrong_kind_are_refused(minilm_folder):
    from edgekd.data.input_spec import InputSpec
    from edgekd.errors import ConfigError
    from edgekd.kd.teacher_cache import Teacher
    from edgekd.stages.cache import CacheConfig, cache_spec

    tokens = InputSpec(shape=(10,), layout="NL", dtype="int64", class_names=("a", "b", "c"),
                       extra={"vocab_size": 30522, "pad_id": 0})
    with pytest.raises(ConfigError, match="crops and flips are for images"):
        cache_spec(CacheConfig(views={"count": 2}), [Teacher(_token_teacher())], ROWS, tokens, str(minilm_folder))
    image_teacher = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3)).eval()
    images = InputSpec(shape=(1, 8, 8), class_names=("a", "b", "c"))
    with pytest.raises(ConfigError, match="`kind: text` edits token ids"):
        cache_spec(CacheConfig(views={"kind": "text", "count": 2}), [Teacher(image_teacher)],
                   np.zeros((2, 1, 8, 8), dtype=np.float32), images)


def test_trimmed_teacher_passes_match_padded_ones_on_minilm(minilm_folder):
    from edgekd.kd.teacher_cache import Teacher, teacher_outputs, trimmed_outputs
    from edgekd.models.hf_source import HfTextModel
    from edgekd.text.tokenizer import encode, load_tokenizer

    texts = ["a terrible film", "one of the year's best, a wonderful and moving movie with a great cast",
             "dull", "the plot follows two brothers across the country"] * 20
    ids, _ = encode(load_tokenizer(minilm_folder), texts, 32)
    torch.manual_seed(0)
    teacher = [Teacher(HfTextModel(str(minilm_folder), task="classification", num_classes=3).eval())]
    assert HfTextModel.PADDING_INVARIANT
    rows = torch.from_numpy(ids)
    padded, trimmed = teacher_outputs(teacher, rows, ["pool"]), trimmed_outputs(teacher, rows, ["pool"], 0)
    for name in padded:
        np.testing.assert_allclose(trimmed[name], padded[name], atol=1e-5, rtol=1e-4)
