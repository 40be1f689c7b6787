"""Channel words of a column mapping as the Échantillonnage page edits them: one `word = channel` a line."""

from __future__ import annotations

import pytest

from qa.errors import QAError
from qa.i18n import t
from qa.interactions import channel_words_text, parse_channel_words


def test_words_map_to_a_channel_code_or_its_name_in_either_language():
    text = "Tél = phone\n\n# a comment\n  Visio = En face à face \nCourriel=E-mail\nMessagerie = Chat\n"
    assert parse_channel_words(text) == {"Tél": "phone", "Visio": "face_to_face", "Courriel": "email",
                                         "Messagerie": "chat"}  # fmt: skip
    assert parse_channel_words("Video = Face to face") == {"Video": "face_to_face"}
    assert parse_channel_words("") == {}


def test_the_text_of_the_words_reads_back_as_the_same_words():
    words = {"Tél": "phone", "Appel sortant": "phone", "Web": "chat"}
    assert parse_channel_words(channel_words_text(words)) == words


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_line_without_equals_or_word_is_named(lang):
    with pytest.raises(QAError) as raised:
        parse_channel_words("Tél = phone\nFax", lang)
    assert str(raised.value) == t("sampling.import.bad_channel_line", lang, line=2, text="Fax")
    with pytest.raises(QAError) as raised:
        parse_channel_words("\n = phone", lang)
    assert str(raised.value) == t("sampling.import.bad_channel_line", lang, line=2, text="= phone")


def test_an_unknown_channel_is_named_with_its_line_and_the_known_channels():
    with pytest.raises(QAError) as raised:
        parse_channel_words("Tél = phone\nFax = fax\n", "en")
    assert str(raised.value) == t("sampling.import.bad_channel_target", "en", line=2, text="Fax = fax",
                                  known="face_to_face, phone, email, chat")  # fmt: skip


def test_a_word_given_twice_is_refused_whatever_its_accents_and_case():
    with pytest.raises(QAError) as raised:
        parse_channel_words("Tél = phone\nTEL = chat")
    assert str(raised.value) == t("sampling.import.duplicate_channel_word", "fr", line=2, word="TEL", first=1)
