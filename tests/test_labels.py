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


def test_unmerge_takes_each_merged_class_to_its_first_raw_class():
    raw = get_label_scheme("celebamask_hq_raw")
    merged = get_label_scheme(raw.merge_into)
    ids = np.arange(merged.num_classes, dtype=np.uint8)
    back = raw.unmerge(ids)
    assert back.dtype == np.uint8 and np.array_equal(raw.merge(back), ids), "merge undoes unmerge"
    names = [raw.class_names[i] for i in back]
    assert names[merged.class_id("eyes")] == "l_eye" and names[merged.class_id("brows")] == "l_brow"
    assert names[merged.class_id("ears")] == "l_ear" and names[merged.class_id("hair")] == "hair"
    image = np.array([[merged.class_id("eyes"), 0], [merged.class_id("cloth"), merged.class_id("skin")]], np.uint8)
    assert raw.unmerge(image).tolist() == [[raw.class_id("l_eye"), 0], [raw.class_id("cloth"), raw.class_id("skin")]]
    cat = get_label_scheme("catmask_raw")  # merged background is raw 0 (not limbus, back, ... which also merge to 0)
    assert np.array_equal(cat.merge(cat.unmerge(np.arange(8, dtype=np.uint8))), np.arange(8))
    assert cat.unmerge(np.array([0, 1], np.uint8)).tolist() == [0, cat.class_id("head")]
    assert merged.unmerge(ids) is ids, "a scheme without merge_into keeps its ids"
    partial = LabelScheme("partial", ("background", "hair"), ((0, 0, 0), (0, 0, 204)),
                          merge_into="celebamask_hq_merged", merge_map=(0, 10))  # not registered: needs no registry entry
    assert partial.unmerge(ids).tolist() == [0] * 10 + [1] + [0] * 5, "a merged class without a raw class becomes 0"
