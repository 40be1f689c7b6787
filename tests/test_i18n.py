"""The message catalogue: English is complete and every placeholder matches its French twin."""

from __future__ import annotations

import pytest

from qa.i18n import catalogue, placeholders, t


def test_both_languages_have_the_same_keys():
    fr, en = catalogue("fr"), catalogue("en")
    assert sorted(set(fr) - set(en)) == [], "missing in English"
    assert sorted(set(en) - set(fr)) == [], "missing in French"


def test_placeholders_match():
    fr, en = catalogue("fr"), catalogue("en")
    mismatched = [k for k in fr if placeholders(fr[k]) != placeholders(en[k])]
    assert mismatched == []


def test_no_empty_message():
    for lang in ("fr", "en"):
        assert [k for k, v in catalogue(lang).items() if not v.strip()] == []


def test_lookup_and_formatting():
    assert t("behaviour.empathy") == "Empathie"
    assert t("behaviour.empathy", "en") == "Empathy"
    assert t("stats.evaluations_count", "en", n=3) == "3 evaluation(s)"
    with pytest.raises(KeyError):
        t("no.such.key")
    with pytest.raises(ValueError, match="unknown language"):
        t("behaviour.empathy", "de")
