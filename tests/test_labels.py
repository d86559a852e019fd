"""Label schemes are data: sizes, merges and palettes as in official-sem2nerf.md section 5."""

import numpy as np
import pytest

from sem2nerf import LabelScheme, get_label_scheme, list_label_schemes, register_label_scheme


def test_builtin_schemes_have_the_official_sizes():
    sizes = {name: get_label_scheme(name).num_classes for name in list_label_schemes()}
    assert sizes["celebamask_hq_raw"] == 19
    assert sizes["celebamask_hq_merged"] == 16
    assert sizes["catmask_raw"] == 16
    assert sizes["catmask_merged"] == 8


def test_celeba_merge_joins_left_and_right_parts():
    raw = get_label_scheme("celebamask_hq_raw")
    merged = get_label_scheme(raw.merge_into)
    ids = np.arange(19, dtype=np.uint8)
    out = raw.merge(ids)
    assert out[4] == out[5] == merged.class_id("eyes")
    assert out[6] == out[7] == merged.class_id("brows")
    assert out[8] == out[9] == merged.class_id("ears")
    # every other class keeps its name
    for i, name in enumerate(raw.class_names):
        if i not in range(4, 10):
            assert merged.class_names[out[i]] == name


def test_merged_celeba_palette_is_raw_palette_without_entries_4_5_9():
    raw = get_label_scheme("celebamask_hq_raw").palette
    merged = get_label_scheme("celebamask_hq_merged").palette
    assert merged == tuple(c for i, c in enumerate(raw) if i not in (4, 5, 9))
    assert merged[4] == (0, 255, 255)  # merged eyes take the old l_brow colour


def test_catmask_merge_keeps_only_head_classes():
    raw = get_label_scheme("catmask_raw")
    merged = get_label_scheme("catmask_merged")
    for i, name in enumerate(raw.class_names):
        target = merged.class_names[raw.merge_map[i]]
        assert target == (name if name in merged.class_names else "background")


def test_register_and_reject_bad_schemes():
    scheme = register_label_scheme(
        LabelScheme("test_two_class", ("background", "thing"), ((0, 0, 0), (255, 0, 0))), overwrite=True
    )
    assert get_label_scheme("test_two_class") is scheme
    with pytest.raises(ValueError, match="colours"):
        LabelScheme("bad", ("a", "b"), ((0, 0, 0),))
    with pytest.raises(KeyError, match="known label schemes"):
        get_label_scheme("no_such_scheme")
    with pytest.raises(ValueError, match="unknown scheme"):
        register_label_scheme(LabelScheme("x", ("a",), ((0, 0, 0),), merge_into="nope", merge_map=(0,)))
