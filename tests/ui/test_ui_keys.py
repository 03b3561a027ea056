"""`[keys]` rebinding by binding id: good entries kept, bad ones reported."""

from __future__ import annotations

from app.core.config import update_user_config
from app.ui.keys import load_keymap


def test_keymap_from_user_config() -> None:
    update_user_config(
        "keys",
        {"approve": "z", "deny": "x,ctrl+n", "nope": "q", "edit": 3, "help": "bad key!"},
    )
    keymap, problems = load_keymap({"approve", "deny", "edit", "help"})
    assert keymap == {"approve": "z", "deny": "x,ctrl+n"}
    text = "\n".join(problems)
    assert "nope: no such binding" in text
    assert "edit: must be a key" in text
    assert "help: 'bad key!' is not a key name" in text


def test_no_config_no_keymap() -> None:
    assert load_keymap({"approve"}) == ({}, [])
