"""Every binding of the console in one list: what `[keys]` may rebind and what `?` shows."""

from __future__ import annotations

from textual.binding import Binding


def all_bindings() -> list[Binding]:
    from app.ui.app import LockgateApp
    from app.ui.screens.dialogs import (
        ConfirmCriticalScreen,
        EditCommandScreen,
        FeedbackScreen,
        QuitScreen,
    )
    from app.ui.screens.help import HelpScreen
    from app.ui.screens.main import MainScreen
    from app.ui.screens.session_diff import SessionDiffScreen
    from app.ui.widgets.diff_view import DiffView
    from app.ui.widgets.queue import QueueList

    owners = (
        MainScreen,
        QueueList,
        DiffView,
        SessionDiffScreen,
        ConfirmCriticalScreen,
        FeedbackScreen,
        EditCommandScreen,
        QuitScreen,
        HelpScreen,
        LockgateApp,
    )
    seen: set[str] = set()
    out: list[Binding] = []
    for owner in owners:
        for b in owner.BINDINGS:
            if isinstance(b, Binding) and b.id and b.id not in seen:
                seen.add(b.id)
                out.append(b)
    return out
