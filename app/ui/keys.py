"""Key bindings the user can own: `[keys]` in the user config maps a binding id to keys.

```toml
[keys]
approve = "y"
deny = "n,x"          # several keys for one action
approve-batch = "ctrl+a"
```

Unknown ids and keys that are not strings are reported in one message and ignored; nothing
else about the console changes when the config is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from app.core.config import ConfigError, load_user_config

_KEY = re.compile(r"^[A-Za-z0-9_+\-]+$")


def load_keymap(known_ids: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """The keymap to hand to `App.set_keymap`, and one line per problem found."""
    known = set(known_ids)
    try:
        section = load_user_config().section("keys")
    except ConfigError as exc:
        return {}, [str(exc)]
    keymap: dict[str, str] = {}
    problems: list[str] = []
    for binding_id, value in section.items():
        if binding_id not in known:
            problems.append(f"[keys] {binding_id}: no such binding")
            continue
        if not isinstance(value, str) or not value.strip():
            problems.append(f'[keys] {binding_id}: must be a key like "ctrl+y"')
            continue
        keys = [k.strip() for k in value.split(",")]
        bad = [k for k in keys if not _KEY.match(k) and len(k) != 1]
        if bad:
            problems.append(f"[keys] {binding_id}: {bad[0]!r} is not a key name")
            continue
        keymap[binding_id] = ",".join(keys)
    return keymap, problems
