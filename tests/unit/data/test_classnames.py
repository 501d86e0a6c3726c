"""UCF-101 class names shipped as data, and their prompt text."""

from __future__ import annotations

import re

import pytest

from neuroflow.data import prettify_class_name, ucf101_class_names
from neuroflow.data.classnames import NAME_OVERRIDES, split_words


def test_official_list_is_complete_and_ordered():
    names = ucf101_class_names()
    assert len(names) == 101 == len(set(names))
    assert names[0] == "ApplyEyeMakeup" and names[36] == "HandstandPushups"
    assert names[59] == "PlayingDaf" and names[-1] == "YoYo"


@pytest.mark.parametrize("name", ucf101_class_names())
def test_every_official_name_reads_as_lowercase_words(name):
    text = prettify_class_name(name)
    assert re.fullmatch(r"[a-z]+( [a-z]+)*", text), text
    if name not in NAME_OVERRIDES:  # the words spell the name, only split and lower-cased
        assert text.replace(" ", "") == name.lower()


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("ApplyEyeMakeup", "apply eye makeup"),
        ("YoYo", "yo yo"),
        ("PlayingDaf", "playing daf"),
        ("TaiChi", "tai chi"),
        ("HandstandPushups", "handstand push ups"),
        ("PushUps", "push ups"),
        ("WallPushups", "wall push ups"),
        ("Skijet", "jet ski"),
        ("CleanAndJerk", "clean and jerk"),
        ("RockClimbingIndoor", "indoor rock climbing"),
        ("TVShow", "tv show"),
        ("Playing_Cello", "playing cello"),
    ],
)
def test_tricky_names(name, text):
    assert prettify_class_name(name) == text


def test_acronym_and_digit_splitting():
    assert split_words("HTTPServer2Go") == ["HTTP", "Server", "2", "Go"]
    with pytest.raises(ValueError, match="no words"):
        prettify_class_name("__")
