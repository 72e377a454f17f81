"""Typed job configurations: one declaration gives checks, options, JSON and differences."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, ClassVar

import pytest

from spikesub.config import JobConfig, setting


@dataclasses.dataclass(frozen=True)
class Toy(JobConfig):
    job: ClassVar[str] = "toy"
    n: int = setting(800, low=1, help="neurons")
    p: float | None = setting(None, low=0.0, high=1.0, help="connection probability")
    lr: float = setting(0.1, low=0.0, low_open=True, help="learning rate")
    rule: str = setting("oja", choices=("oja", "gha"), help="Hebbian rule")
    hidden: tuple[int, ...] = setting((8, 8), low=1, help="hidden sizes")
    threshold: float | list[float] = setting(
        0.9, low=0.0, high=1.0, low_open=True, high_open=True, help="energy threshold"
    )
    compare: bool = setting(True, help="compare with GPM")
    options: dict = setting(default_factory=dict, help="other options")
    steps: int | None = setting(None, low=1, help="steps (default: 2 per hidden layer)")

    def resolve(self) -> dict[str, Any]:
        return {"steps": 2 * len(self.hidden)} if self.steps is None else {}

    def check(self) -> None:
        if self.rule == "gha" and not self.compare:
            raise ValueError("rule gha needs compare")


def test_defaults_and_resolved_settings():
    toy = Toy()
    assert (toy.n, toy.p, toy.hidden, toy.steps) == (800, None, (8, 8), 4)
    assert Toy(hidden=[3, 4, 5]).steps == 6
    assert toy.replace(hidden=(1,)).steps == 2  # resolved again from the new hidden sizes
    assert toy.replace(steps=9).steps == 9


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"n": 0}, ValueError, r"n must be an integer >= 1; got 0"),
        ({"n": 2.5}, TypeError, r"n must be an integer"),
        ({"n": True}, TypeError, r"n must be an integer"),
        ({"p": 1.5}, ValueError, r"p must be a finite number in \[0, 1\]; got 1.5"),
        ({"p": float("nan")}, ValueError, r"p must be"),
        ({"lr": 0.0}, ValueError, r"lr must be a finite number > 0"),
        ({"lr": 10**400}, ValueError, r"lr must be"),
        ({"rule": "hebb"}, ValueError, r"rule must be one of oja, gha"),
        ({"hidden": ()}, ValueError, r"hidden must be sizes"),
        ({"hidden": "8,8"}, TypeError, r"hidden must be sizes"),
        ({"threshold": [0.9, 1.0]}, ValueError, r"threshold must be"),
        ({"compare": "False"}, TypeError, r"compare must be true or false"),
        ({"options": {1: 2}}, TypeError, r"options must be a mapping"),
        ({"n": None}, TypeError, r"n must be set"),
        ({"rule": "gha", "compare": False}, ValueError, r"rule gha needs compare"),
    ],
)
def test_bad_values_are_refused_naming_the_setting(changes, error, message):
    with pytest.raises(error, match=message):
        Toy(**changes)


def test_json_round_trip_and_unknown_keys():
    toy = Toy(hidden=(3,), threshold=[0.5, 0.6], options={"a": [1]})
    data = toy.to_dict()
    assert data["hidden"] == [3] and data["threshold"] == [0.5, 0.6]
    assert Toy.from_dict(data) == toy
    with pytest.raises(ValueError, match=r"unknown toy setting\(s\) size; known: compare"):
        Toy.from_dict({**data, "size": 3})


def test_differences_name_each_setting():
    assert Toy(n=5).differences(Toy()) == ["n: 5 != 800"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toy")
    Toy.add_arguments(parser, groups={"network": ("n", "p", "hidden")})
    return parser


def test_options_come_from_the_declaration():
    parser = _parser()
    text = parser.format_help()
    assert "--n N" in text and "neurons (default 800)" in text
    assert "--hidden HIDDEN" in text and "(default 8,8)" in text
    assert "--compare, --no-compare" in text and "network:" in text
    args = parser.parse_args(
        [
            "--n",
            "5",
            "--hidden",
            "3,4",
            "--threshold",
            "0.5,0.6",
            "--no-compare",
            "--option",
            "x=[1, 2]",
            "--option",
            "y=False",
        ]
    )
    toy = Toy.from_args(args)
    assert (toy.n, toy.hidden, toy.threshold, toy.compare) == (5, (3, 4), [0.5, 0.6], False)
    assert toy.options == {"x": [1, 2], "y": False}


def test_options_not_given_keep_the_base_values():
    args = _parser().parse_args(["--lr", "0.5"])
    assert Toy.given_in_args(args) == {"lr": 0.5}
    toy = Toy.from_args(args, base=Toy(n=7).to_dict())
    assert (toy.n, toy.lr) == (7, 0.5)


@pytest.mark.parametrize(
    "argv", [["--n", "x"], ["--hidden", "a,b"], ["--rule", "hebb"], ["--option", "novalue"]]
)
def test_unparsable_option_text_is_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as info:
        _parser().parse_args(argv)
    assert info.value.code == 2
