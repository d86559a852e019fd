"""Is a mask's class layout plausible for a model's domain? The rules, as data per domain, and the check.

A mask can read without error and still be wrong for the model: a CatMask mask given to a face model, merged
ids read as raw ids (hair becomes "mouth", neck becomes "hat"), a mask drawn without skin. The model renders
whatever it is given, so the command line and the app warn (and render anyway). The rules are loose on
purpose: every example mask, SynthFaces head (random poses included) and DrawnFaces mask passes them
(``tests/test_layout.py``); they catch layouts no real face (or cat) has.

Rules name classes of the domain's *input* (merged) scheme; a raw mask is merged first. When a mask whose ids
were read as ids (not snapped from colours) breaks the rules, the same ids are also read in the other schemes
they fit (the domain's merged scheme, other domains' schemes); a reading that passes its domain's rules is
named in the warning ("its ids read as catmask_raw look like a cat").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .domains import Domain, get_domain
from .labels import get_label_scheme
from .masks import LabelMask

__all__ = ["LAYOUT_RULES", "LayoutCheck", "LayoutRules", "check_layout", "register_layout_rules"]


@dataclass(frozen=True)
class LayoutRules:
    """What every mask of a domain shows.

    Attributes:
        domain: the domain's name.
        subject: what its masks show, in words ("face").
        main: the class every mask shows (a face's skin, a cat's head).
        main_min: the main class covers at least this fraction of the mask.
        at_most: ``(class, k)``: the class covers at most ``k`` times the main class's area.
        above: ``(a, b)``: the centre of ``a`` lies above the centre of ``b`` whenever both are present.
        present: a class counts as present from this fraction of the mask's pixels.
        model: the kind of model that reads these masks, in words ("a face model").
        classes: the classes its masks are drawn in, in words ("CelebAMask-HQ classes").
    """

    domain: str
    subject: str
    main: str
    main_min: float
    at_most: tuple[tuple[str, float], ...]
    above: tuple[tuple[str, str], ...]
    model: str
    classes: str
    present: float = 0.001


LAYOUT_RULES: dict[str, LayoutRules] = {}


def register_layout_rules(rules: LayoutRules) -> LayoutRules:
    """Add (or replace) the layout rules of a domain."""
    scheme = get_label_scheme(get_domain(rules.domain).input_scheme)
    for name in {rules.main, *(c for c, _ in rules.at_most), *(c for pair in rules.above for c in pair)}:
        scheme.class_id(name)  # ValueError naming the classes for a typo
    LAYOUT_RULES[rules.domain] = rules
    return rules


# Measured on the examples, 30 SynthFaces heads at random poses and 30 DrawnFaces masks (see the tests): skin
# covers 16-39 % of the frame; nose, eyes, brows, mouth and lips each at most 0.13 x the skin, glasses 0.11 x,
# ears 0.07 x, an earring 0.01 x.
register_layout_rules(LayoutRules(
    domain="celebamask_hq",
    subject="face",
    main="skin",
    main_min=0.02,
    at_most=(("nose", 0.5), ("eyes", 0.5), ("brows", 0.5), ("mouth", 0.5), ("u_lip", 0.5), ("l_lip", 0.5),
             ("ear_r", 0.5), ("ears", 1.0), ("eye_g", 1.0)),
    above=(("hat", "skin"), ("skin", "neck"), ("skin", "cloth"), ("brows", "eyes"), ("eyes", "mouth"),
           ("eyes", "u_lip"), ("eyes", "l_lip")),
    model="a face model",
    classes="CelebAMask-HQ classes",
))
register_layout_rules(LayoutRules(
    domain="catmask",
    subject="cat",
    main="head",
    main_min=0.02,
    at_most=(("eye", 0.5), ("mouth", 0.5), ("tongue", 0.5), ("nose", 0.5), ("ear", 1.0)),
    above=(("ear", "mouth"), ("eye", "mouth")),
    model="a cat model",
    classes="CatMask classes",
))


@dataclass(frozen=True)
class LayoutCheck:
    """The outcome of :func:`check_layout`: what is implausible, and the readings of the ids that are plausible.

    ``readings`` holds ``(scheme, domain)`` pairs: reading the same ids in ``scheme`` gives a plausible mask of
    ``domain``. A check is true when it found problems.
    """

    domain: str
    scheme: str
    problems: tuple[str, ...]
    readings: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.problems)

    def message(self, pick_scheme: str = "pass --scheme {scheme}",
                pick_model: str = "render it with {model} (--model FOLDER_OR_REPO_ID)",
                schemes: str = "--scheme; `python -m sem2nerf schemes` lists them") -> str:
        """One paragraph for people (empty when there is no problem).

        ``pick_scheme`` says how to read the file in another scheme (``{scheme}`` is filled in), ``pick_model``
        how to choose another model (``{model}``), ``schemes`` where the scheme is chosen; the defaults are the
        command line's.
        """
        if not self.problems:
            return ""
        rules = LAYOUT_RULES[self.domain]
        text = (f"the mask does not look like a {rules.subject} (model domain {self.domain}, mask read as "
                f"{self.scheme}): {'; '.join(self.problems)}.")
        hints = []
        for scheme, domain in self.readings:
            other = LAYOUT_RULES[domain]
            if domain == self.domain:
                hints.append(f"Its ids look like {scheme} ids: {pick_scheme.format(scheme=scheme)}.")
            else:
                hints.append(f"Its ids look like a {other.subject} mask in {other.classes} ({scheme}): "
                             f"{pick_model.format(model=other.model)}.")
        if not hints:
            others = [f"a {r.subject} needs {r.model}" for r in LAYOUT_RULES.values() if r.domain != self.domain]
            hints.append(f"Check the label scheme ({schemes}) and that the mask shows a {rules.subject} in "
                         f"{rules.classes}" + (f" ({'; '.join(others)})" if others else "") + ".")
        return " ".join([text[:1].upper() + text[1:], *dict.fromkeys(hints), "Rendered anyway."])


def layout_problems(mask: LabelMask, domain: str | Domain) -> list[str]:
    """The rules of ``domain`` that ``mask`` breaks, in words (empty: plausible, or no rules for the domain)."""
    domain = get_domain(domain)
    rules = LAYOUT_RULES.get(domain.name)
    if rules is None:
        return []
    if int(mask.labels.max(initial=0)) >= mask.scheme.num_classes:
        return []  # ids the scheme does not define: the loader refuses them with its own message
    try:
        merged = mask.to_scheme(domain.input_scheme)
    except ValueError:
        return []  # another domain's scheme: the encoder refuses it with its own message
    scheme = merged.scheme
    labels = merged.labels
    height = labels.shape[0]
    flat = labels.ravel()
    counts = np.bincount(flat, minlength=scheme.num_classes)
    area = counts / max(flat.size, 1)
    rows = np.broadcast_to(np.arange(height, dtype=np.float64)[:, None], labels.shape).ravel()
    centre = np.bincount(flat, weights=rows, minlength=scheme.num_classes) / np.maximum(counts, 1) / max(height, 1)

    def cid(name: str) -> int:
        return scheme.class_id(name)

    def present(name: str) -> bool:
        return area[cid(name)] >= rules.present

    problems = []
    main = area[cid(rules.main)]
    if main < rules.main_min:
        problems.append(f"there is {'no' if main == 0 else 'almost no'} '{rules.main}' "
                        f"({main:.1%} of the mask; a {rules.subject} shows at least {rules.main_min:.0%})")
    else:
        for name, limit in rules.at_most:
            ratio = area[cid(name)] / main
            if present(name) and ratio > limit:
                problems.append(f"'{name}' covers {ratio:.2g} x the area of '{rules.main}' (a {rules.subject}: "
                                f"at most {limit:g} x)")
    for upper, lower in rules.above:
        if present(upper) and present(lower) and centre[cid(upper)] >= centre[cid(lower)]:
            problems.append(f"'{upper}' is not above '{lower}'")
    return problems


def check_layout(mask: LabelMask, domain: str | Domain) -> LayoutCheck:
    """Check ``mask`` against the layout rules of ``domain`` (see the module's description).

    Returns a :class:`LayoutCheck`; ``check.message()`` is the warning to show when it is true.
    """
    domain = get_domain(domain)
    problems = tuple(layout_problems(mask, domain))
    readings: list[tuple[str, str]] = []
    if problems and not mask.from_colours:
        top = int(mask.labels.max(initial=0))
        for name in LAYOUT_RULES:
            other = get_domain(name)
            for scheme_name in dict.fromkeys((other.raw_scheme, other.input_scheme)):
                scheme = get_label_scheme(scheme_name)
                if scheme_name == mask.scheme.name or top >= scheme.num_classes:
                    continue
                if not layout_problems(LabelMask(mask.labels, scheme), other):
                    readings.append((scheme_name, name))
                    break  # one reading per domain (the raw scheme first)
    return LayoutCheck(domain.name, mask.scheme.name, problems, tuple(readings))
