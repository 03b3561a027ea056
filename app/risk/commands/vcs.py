"""git: reading history, local changes, network operations, history rewrites, hooks and
config keys that run commands.
"""

from __future__ import annotations

import os
import re

from app.core.model import Category as K
from app.risk import gitstate
from app.risk.analysis import Analyzer, short
from app.risk.commands.args import q
from app.risk.commands.effects import generated, write_target
from app.risk.commands.registry import Family, Handler
from app.risk.shell import SimpleCommand, Word

_GIT_EXEC_KEYS = re.compile(
    r"^(core\.(hookspath|sshcommand|pager|editor|fsmonitor|askpass|gitproxy|worktree)|"
    r"credential\..*|alias\..*|diff\..*\.(command|textconv)|filter\..*|gpg\..*program|"
    r"sequence\.editor|url\..*\.(insteadof|pushinsteadof)|http\..*proxy|include\.path|"
    r"includeif\..*|uploadpack\.packobjectshook|merge\..*\.driver|pager\..*|"
    r"protocol\..*\.allow|remote\..*\.(url|pushurl|uploadpack|receivepack)|"
    r"sendemail\..*|web\.browser|browser\..*\.cmd|difftool\..*\.cmd|mergetool\..*\.cmd|"
    r"init\.templatedir|safe\.directory|core\.sharedrepository)$",
    re.I,
)


_GIT_READ = frozenset(
    [
        "status",
        "diff",
        "log",
        "show",
        "blame",
        "branch",
        "tag",
        "describe",
        "rev-parse",
        "ls-files",
        "ls-tree",
        "cat-file",
        "shortlog",
        "reflog",
        "grep",
        "whatchanged",
        "name-rev",
        "merge-base",
        "count-objects",
        "fsck",
        "help",
        "version",
        "worktree",
        "check-ignore",
        "check-attr",
        "var",
        "rev-list",
        "for-each-ref",
        "show-ref",
        "show-branch",
        "cherry",
        "range-diff",
        "diff-tree",
        "diff-files",
        "diff-index",
        "annotate",
        "verify-commit",
        "verify-tag",
        "archive",
        "format-patch",
        "bugreport",
    ]
)


_GIT_LOCAL = frozenset(
    [
        "add",
        "rm",
        "commit",
        "checkout",
        "switch",
        "restore",
        "stash",
        "merge",
        "cherry-pick",
        "revert",
        "mv",
        "init",
        "apply",
        "am",
        "bisect",
        "notes",
        "sparse-checkout",
        "mergetool",
        "difftool",
        "rerere",
        "gc",
        "prune",
        "repack",
        "maintenance",
        "commit-tree",
        "update-index",
        "write-tree",
        "read-tree",
        "hash-object",
        "symbolic-ref",
        "pack-refs",
        "citool",
        "gui",
        "stage",
    ]
)


_GIT_NET = frozenset(
    [
        "push",
        "pull",
        "fetch",
        "clone",
        "ls-remote",
        "submodule",
        "remote",
        "request-pull",
        "send-email",
        "lfs",
        "svn",
        "p4",
        "archive-remote",
    ]
)


_PROTECTED_BRANCH = re.compile(
    r"^(\+)?(refs/heads/)?(main|master|release.*|prod.*|production|"
    r"stable|trunk|develop)$"
)


# ---------------------------------------------------------------- what the worktree loses
# `git clean`, `git reset --hard`, `git checkout -- .`, `git stash drop`: judged by git's own
# account of the workspace, read fresh (files counted, the count said in the reason). Anything
# git cannot say (no repository, a pathspec with magic, a cwd known only at run time) leaves
# the command to the fixed scores below, never more lenient.


def _n(count: int, what: str) -> str:
    return f"{count} {what}" if count == 1 else f"{count} {what}s"


# Nothing to lose now still asks (lower than the fixed score, not allowed): these commands
# wipe whatever the tree holds when they run, which a queued or sandboxed run may not share
# with the snapshot read here.
_NOTHING_NOW = 35
_WHEN_IT_RUNS = "; still asked: it discards whatever is there when it runs"


def _worktree(
    an: Analyzer, c: SimpleCommand, specs: list[Word]
) -> tuple[gitstate.GitState, tuple[str, ...]] | None:
    """git's fresh account and the root-relative scopes the command covers (its pathspecs,
    else the directory it runs in; `whole` callers pass no specs and use "")."""
    cwd = an.cwds.get(c.index, an.start_cwd)
    if cwd is None:
        return None
    an.facts.volatile = True
    st = gitstate.fresh(an.workspace)
    if st is None:
        return None
    root = st.root.rstrip("/")
    scopes: list[str] = []
    for w in specs or [Word(".", ".", c.span)]:
        v = w.value
        if v is None or v.startswith(":") or any(ch in v for ch in "*?["):
            return None
        info = an.path(c, v)
        if info.abs is None:
            return None
        if info.abs == root:
            scopes.append("")
        elif info.abs.startswith(root + "/"):
            scopes.append(info.abs[len(root) + 1 :])
        else:
            return None
    return st, tuple(scopes)


def _judge_discard(an: Analyzer, c: SimpleCommand, rv: list[str], *, moves: bool) -> bool:
    """`git reset --hard`: the uncommitted changes to tracked files (staged or not) are lost;
    untracked files stay."""
    got = _worktree(an, c, [])
    if got is None:
        return False
    st, _ = got
    n = len(st.dirty)
    commits = " and moves the branch back (the commits stay in the reflog)" if moves else ""
    if n == 0:
        if moves:
            an.add(K.DESTRUCTIVE, 36, "moves the branch back, rewriting history", c.span)
        else:
            an.add(
                K.DESTRUCTIVE,
                _NOTHING_NOW,
                "resets the working tree: git status shows no uncommitted changes to lose now"
                + _WHEN_IT_RUNS,
                c.span,
            )
        return True
    an.add(
        K.DESTRUCTIVE,
        50,
        f"resets the working tree, discarding uncommitted changes to "
        f"{_n(n, 'tracked file')}{commits}: git cannot restore them",
        c.span,
    )
    return True


def _judge_checkout(an: Analyzer, c: SimpleCommand, sub: str, rest: list[Word]) -> bool:
    """`git checkout -- PATHS` / `git restore PATHS`: changes to those files since the index
    (or, from a commit, since that commit) are lost."""
    vals = [w.value or "" for w in rest]
    if "--" in vals:
        k = vals.index("--")
        before = [w for w in rest[:k] if not (w.value or "-").startswith("-")]
        specs = rest[k + 1 :]
    else:
        before = []
        specs = [w for w in rest if not (w.value or "-").startswith("-")]
    from_commit = bool(before) or any(
        v.startswith(("--source", "-s")) or v in ("--staged", "-S") for v in vals
    )
    if any(v in ("-p", "--patch", "-b", "-B", "--orphan", "-f", "--force") for v in vals):
        return False  # (checkout -f switches branches, throwing away every change)
    if sub == "checkout" and "--" not in vals:
        # Without `--` a name may be a branch or a commit: only paths that exist are paths.
        for w in specs:
            info = an.path(c, w.value) if w.value else None
            if info is None or info.abs is None or not os.path.lexists(info.abs):
                return False
    got = _worktree(an, c, specs)
    if got is None:
        return False
    st, scopes = got
    pool = st.dirty if from_commit else st.unstaged
    lost = sorted(p for p in pool if gitstate.in_scope(p, scopes))
    where = ", ".join(w.best for w in specs[:3]) or "the working tree"
    if not lost:
        an.add(
            K.DESTRUCTIVE,
            _NOTHING_NOW,
            f"git {sub} of {where}: git status shows no uncommitted changes there to discard "
            f"now{_WHEN_IT_RUNS}",
            c.span,
        )
        return True
    shown = ", ".join(lost[:3]) + (" …" if len(lost) > 3 else "")
    an.add(
        K.DESTRUCTIVE,
        45,
        f"discards uncommitted changes to {_n(len(lost), 'file')} ({shown}): "
        "git cannot restore them",
        c.span,
    )
    return True


def _judge_clean(an: Analyzer, c: SimpleCommand, rest: list[Word]) -> bool:
    """`git clean -f[d][x|X]`: untracked files are gone for good; with -x (or only, -X) the
    ignored ones too — build output and caches lose nothing, anything else (`.env`) does."""
    vals = [w.value or "" for w in rest]
    shorts = "".join(v[1:] for v in vals if v.startswith("-") and not v.startswith("--"))
    if any(
        v in ("-e", "--exclude", "-i", "--interactive") or v.startswith("--exclude") for v in vals
    ):
        return False
    if "e" in shorts or "i" in shorts:
        return False
    only_ignored = "X" in shorts
    with_ignored = "x" in shorts or only_ignored
    dirs = "d" in shorts
    if "--" in vals:
        specs = rest[vals.index("--") + 1 :]
    else:
        specs = [w for w in rest if not (w.value or "-").startswith("-")]
    got = _worktree(an, c, specs)
    if got is None:
        return False
    st, scopes = got
    untracked = (
        [] if only_ignored else sorted(p for p in st.untracked if gitstate.in_scope(p, scopes))
    )
    if not dirs and not specs:
        # Without -d (and without a pathspec) git does not go into untracked directories (no
        # tracked file at any depth): count the files in directories that hold tracked ones.
        tracked_dirs = {""}
        for p in st.tracked:
            while "/" in p:
                p = p.rsplit("/", 1)[0]
                if p in tracked_dirs:
                    break
                tracked_dirs.add(p)
        untracked = [
            p for p in untracked if (p.rsplit("/", 1)[0] if "/" in p else "") in tracked_dirs
        ]
    ignored = [
        p
        for p in st.ignored
        if with_ignored and gitstate.in_scope(p, scopes) and (dirs or not p.endswith("/"))
    ]
    kept = [p for p in ignored if not generated(p)]
    env = [p for p in kept if p.rstrip("/").rsplit("/", 1)[-1].startswith(".env")]
    if not untracked and not kept:
        what = " and build output or caches git ignores" if ignored else ""
        an.add(
            K.DESTRUCTIVE,
            _NOTHING_NOW,
            f"git clean: git status shows no untracked files to lose here now{what}"
            + _WHEN_IT_RUNS,
            c.span,
        )
        return True
    parts = []
    if untracked:
        parts.append(
            f"{_n(len(untracked), 'untracked file')} ({', '.join(untracked[:3])}"
            + (" …)" if len(untracked) > 3 else ")")
        )
    if kept:
        parts.append(
            f"{_n(len(kept), 'ignored file or directory')} that is not build output "
            f"({', '.join(kept[:3])}" + (" …)" if len(kept) > 3 else ")")
        )
    score = 62 if env else 50
    an.add(
        K.DESTRUCTIVE,
        score,
        f"deletes {' and '.join(parts)}: git cannot restore them"
        + ("; the environment file holds the app's settings and credentials" if env else ""),
        c.span,
    )
    return True


def _judge_stash(an: Analyzer, c: SimpleCommand, rv: list[str]) -> bool:
    """`git stash drop [REF]` / `git stash clear`: the stashed changes are gone (only
    `git fsck` finds a dropped stash)."""
    an.facts.volatile = True
    entries = gitstate.stashes(an.workspace)
    if entries is None:
        return False
    if not entries:
        an.add(
            K.DESTRUCTIVE,
            _NOTHING_NOW,
            f"git stash {rv[0]}: there are no stashed changes now{_WHEN_IT_RUNS}",
            c.span,
        )
        return True
    if rv[0] == "clear":
        an.add(
            K.DESTRUCTIVE,
            45 if len(entries) > 1 else 40,
            f"deletes all {_n(len(entries), 'stash entry')} (`git stash clear`): "
            "git cannot restore them",
            c.span,
        )
        return True
    ref = next((v for v in rv[1:] if not v.startswith("-")), "stash@{0}")
    if ref.isdigit():
        ref = f"stash@{{{ref}}}"
    files = gitstate.stash_files(an.workspace, ref)
    held = f" ({_n(files, 'file')} changed in it)" if files else ""
    an.add(
        K.DESTRUCTIVE,
        40,
        f"deletes the stash entry {ref}{held}: git cannot restore it",
        c.span,
    )
    return True


def h_git(an: Analyzer, c: SimpleCommand) -> None:
    args = list(c.args)
    elsewhere = False  # -C / --git-dir / --work-tree: not the workspace's own repository
    # global options before the subcommand
    i = 0
    while i < len(args):
        v = args[i].value or ""
        if v == "-c" and i + 1 < len(args):
            kv = args[i + 1].value or ""
            key = kv.split("=", 1)[0]
            if _GIT_EXEC_KEYS.match(key):
                an.add(
                    K.PRIVILEGE,
                    65,
                    f"runs git with {q(kv)}, which makes git run a program",
                    args[i + 1].span,
                )
                if "=" in kv:
                    code = kv.split("=", 1)[1].lstrip("!")
                    if code:
                        an.fragment(code, None, args[i + 1].span, c, prefix="via git -c: ")
            i += 2
            continue
        if v in ("-C", "--git-dir", "--work-tree", "--namespace", "--exec-path") and i + 1 < len(
            args
        ):
            if v in ("-C", "--work-tree", "--git-dir"):
                elsewhere = True
                info = an.path(c, args[i + 1].value or ".")
                if info.where == "outside":
                    an.add(
                        K.OUTSIDE_WORKSPACE,
                        30,
                        f"runs git on {info.display}, outside the workspace",
                        args[i + 1].span,
                    )
            i += 2
            continue
        if v.startswith("-"):
            i += 1
            continue
        break
    if i >= len(args):
        return
    sub_w = args[i]
    sub = sub_w.value or ""
    rest = args[i + 1 :]
    rv = [w.value or "" for w in rest]
    if sub not in ("show", "cat-file", "diff", "log", "blame", "grep", "archive", "format-patch"):
        # Paths given to git here are tracked or untracked names, not contents read.
        an.ci(c).seen.update(w.span for w in rest)
        if sub == "add":
            for w in rest:
                p = an.path(c, w.value) if w.value and not w.value.startswith("-") else None
                if p is not None and p.secret:
                    an.add(
                        K.SECRETS,
                        45,
                        f"stages {p.display} ({p.secret}) for commit, where "
                        "it would be kept and pushed",
                        w.span,
                    )
    if sub == "config":
        _git_config(an, c, rest)
        return
    if sub in ("push",):
        an.ci(c).network = True
        force = any(
            v in ("-f", "--force", "--force-with-lease", "--force-if-includes", "--mirror")
            or v.startswith("--force-with-lease")
            for v in rv
        ) or any(v.startswith("+") for v in rv if not v.startswith("-"))
        delete = any(v in ("-d", "--delete", "--prune") for v in rv) or any(
            v.startswith(":") and len(v) > 1 for v in rv
        )
        pos = [v for v in rv if not v.startswith("-")]
        branches = pos[1:] if len(pos) > 1 else []
        protected = any(_PROTECTED_BRANCH.match(b.split(":")[-1]) for b in branches)
        fresh = pos[0] if pos and pos[0] in an.git_remotes else None
        if (fresh is None and pos and "://" in pos[0]) or (
            pos and re.match(r"^[\w.-]+@[\w.-]+:", pos[0])
        ):
            fresh = pos[0]
        if fresh is not None:
            url = an.git_remotes.get(fresh, fresh)
            an.add(
                K.EXFILTRATION,
                70,
                f"pushes the repository to {short(url)}, a remote this action names itself",
                c.span,
            )
        if force:
            an.add(
                K.DESTRUCTIVE,
                75 if protected or not branches else 65,
                "force-pushes, overwriting history on the remote"
                + (f" ({', '.join(branches)})" if branches else ""),
                c.span,
            )
        elif delete:
            an.add(K.DESTRUCTIVE, 60, "deletes branches or tags on the remote", c.span)
        elif "--tags" in rv or "--all" in rv:
            an.add(K.NETWORK, 45, "publishes all branches or tags to the remote", c.span)
        else:
            an.add(
                K.NETWORK,
                40,
                f"publishes commits to {pos[0] if pos else 'the remote'}"
                + (f" ({', '.join(branches)})" if branches else ""),
                c.span,
            )
        an.facts.sends_data.append("git remote")
        return
    if sub in _GIT_NET:
        an.ci(c).network = True
        if sub == "remote" and (not rv or (rv[0] in ("-v", "show", "get-url") and rv[0] != "show")):
            an.add(K.RESOURCE, 0, "lists git remotes", c.span)
            return
        if sub == "remote" and len(rv) >= 3 and rv[0] in ("add", "set-url"):
            an.git_remotes[rv[1]] = rv[2]
        if sub == "remote" and rv and rv[0] in ("add", "set-url", "rename", "remove", "rm"):
            an.add(
                K.NETWORK, 40, f"changes where git pushes and pulls ({' '.join(rv[:3])})", c.span
            )
            return
        if sub == "send-email":
            an.add(K.EXFILTRATION, 60, "emails patches out", c.span)
            return
        if sub == "clone":
            pw = [w for w in rest if not (w.value or "").startswith("-")]
            src = pw[0].best if pw else "a repository"
            an.add(K.NETWORK, 40, f"downloads the repository {short(src, 60)}", c.span)
            if len(pw) >= 2:
                write_target(an, c, pw[1], "clones into")
            if any(v.startswith("--recurse") or v == "--config" or v == "-c" for v in rv):
                an.add(K.SUPPLY_CHAIN, 10, "also fetches submodules", c.span)
            return
        an.add(K.NETWORK, 40, f"`git {sub}` talks to the remote", c.span)
        return
    if sub in ("reset",):
        moves = any("~" in v or "^" in v or re.fullmatch(r"[0-9a-f]{7,40}", v) for v in rv)
        if "--hard" in rv and not elsewhere and _judge_discard(an, c, rv, moves=moves):
            return
        if "--hard" in rv or "--merge" in rv or "--keep" in rv:
            an.add(
                K.DESTRUCTIVE,
                45,
                "resets the working tree, discarding uncommitted changes"
                + (" and commits" if any("~" in v or "^" in v for v in rv) else ""),
                c.span,
            )
        elif any("~" in v or "^" in v or re.fullmatch(r"[0-9a-f]{7,40}", v) for v in rv):
            an.add(K.DESTRUCTIVE, 36, "moves the branch back, rewriting history", c.span)
        else:
            an.add(K.DESTRUCTIVE, 10, "unstages changes", c.span)
        return
    if sub in ("rebase", "merge", "cherry-pick", "revert", "am") and any(
        v in ("--abort", "--quit") for v in rv
    ):
        an.add(K.DESTRUCTIVE, 5, f"abandons the {sub} in progress, back to where it began", c.span)
        return
    if sub in ("rebase",):
        an.add(K.DESTRUCTIVE, 40, "rewrites commit history (rebase)", c.span)
        return
    if sub in ("filter-branch", "filter-repo", "replace"):
        an.add(K.DESTRUCTIVE, 60, f"rewrites the whole history (`git {sub}`)", c.span)
        return
    if sub == "clean":
        if any(
            re.fullmatch(r"-[a-zA-Z]*[fF][a-zA-Z]*", v) or v == "--force" for v in rv
        ) and not any(re.fullmatch(r"-[a-zA-Z]*n[a-zA-Z]*", v) or v == "--dry-run" for v in rv):
            if not elsewhere and _judge_clean(an, c, rest):
                return
            an.add(
                K.DESTRUCTIVE,
                45,
                "deletes untracked files"
                + (
                    " including ignored ones"
                    if any("x" in v and v.startswith("-") for v in rv)
                    else ""
                ),
                c.span,
            )
        return
    if sub == "commit" and "--amend" in rv:
        an.add(K.DESTRUCTIVE, 36, "rewrites the last commit (--amend)", c.span)
        return
    if sub in ("checkout", "restore"):
        pos = [v for v in rv if not v.startswith("-")]
        discards = (
            ("--" in rv and (sub == "checkout"))
            or "-f" in rv
            or "--force" in rv
            or (sub == "restore" and "--staged" not in rv and "-S" not in rv)
            or (sub == "checkout" and pos and pos[-1] in (".", "*", ":/"))
        )
        if discards and (pos or "-f" in rv or "--force" in rv):
            if not elsewhere and _judge_checkout(an, c, sub, rest):
                return
            an.add(
                K.DESTRUCTIVE,
                40,
                "discards uncommitted changes to " + (", ".join(pos[:3]) or "the working tree"),
                c.span,
            )
        else:
            an.add(
                K.DESTRUCTIVE, 8, f"git {sub}: switches branches or files in the workspace", c.span
            )
        return
    if sub == "stash" and rv and rv[0] in ("drop", "clear"):
        if not elsewhere and _judge_stash(an, c, rv):
            return
        an.add(K.DESTRUCTIVE, 40, f"deletes stashed changes (`git stash {rv[0]}`)", c.span)
        return
    if sub == "branch" and any(v in ("-D", "-d", "--delete") or v.startswith("-D") for v in rv):
        an.add(
            K.DESTRUCTIVE,
            40 if any(v.startswith("-D") or "--force" in v for v in rv) else 36,
            "deletes branches",
            c.span,
        )
        return
    names = [v for v in rv if not v.startswith("-")]
    if sub == "branch" and "-M" in rv and len(names) == 1 and not ({"-f", "--force"} & set(rv)):
        # `git branch -M main` right after `git init`: renames the current branch.
        an.add(K.DESTRUCTIVE, 10, f"renames the current branch to {q(names[0])}", c.span)
        return
    if sub == "branch" and any(v in ("-f", "--force", "-M") for v in rv):
        an.add(K.DESTRUCTIVE, 36, "force-moves or renames a branch", c.span)
        return
    if sub == "tag" and any(v in ("-d", "--delete", "-f", "--force") for v in rv):
        an.add(K.DESTRUCTIVE, 36, "deletes or moves tags", c.span)
        return
    if sub == "rm" and "--cached" not in rv:
        an.add(K.DESTRUCTIVE, 36, "deletes tracked files (`git rm`)", c.span)
        return
    if sub in ("reflog",) and rv and rv[0] in ("expire", "delete"):
        an.add(
            K.DESTRUCTIVE,
            55,
            "drops entries from the reflog (lost commits cannot be recovered)",
            c.span,
        )
        return
    if sub in ("update-ref",) and "-d" in rv:
        an.add(K.DESTRUCTIVE, 45, "deletes a ref", c.span)
        return
    if sub in ("gc", "prune") and any("now" in v or "--aggressive" in v for v in rv):
        an.add(K.DESTRUCTIVE, 30, "prunes unreachable objects now", c.span)
        return
    if sub == "worktree" and rv and rv[0] in ("add",):
        pw = [w for w in rest[1:] if not (w.value or "").startswith("-")]
        if pw:
            write_target(an, c, pw[0], "creates a worktree at")
        return
    if sub in _GIT_READ:
        if sub == "archive":
            for k, v in enumerate(rv):
                if v in ("-o", "--output") and k + 1 < len(rest):
                    write_target(an, c, rest[k + 1])
                if v.startswith("--remote"):
                    an.add(K.NETWORK, 40, "fetches an archive from a remote", c.span)
        if sub == "format-patch":
            for k, v in enumerate(rv):
                if v in ("-o", "--output-directory") and k + 1 < len(rest):
                    write_target(an, c, rest[k + 1])
        if sub in ("log", "show", "diff", "format-patch", "archive") and (
            "-p" in rv or sub in ("show", "diff", "format-patch", "archive") or "--patch" in rv
        ):
            an.ci(c).reads_data = True
        if sub == "log":
            an.ci(c).reads_data = True
        return
    if sub in _GIT_LOCAL:
        an.add(K.DESTRUCTIVE, 8, f"git {sub}: changes the repository in the workspace", sub_w.span)
        return
    if sub.startswith("credential") and any(
        w.value in ("fill", "get") for w in c.args if w.span[0] > sub_w.span[0]
    ):
        an.ci(c).secrets.append("saved git credentials")
        an.facts.reads_secrets.append("saved git credentials")
        an.add(
            K.SECRETS,
            80,
            "asks git's credential helper for a saved password or token: it would reach the "
            "agent and its model provider",
            c.span,
        )
        return
    an.add(K.RESOURCE, 20, f"runs `git {sub}`, a git command lockgate has no rule for", sub_w.span)


_TLS_OFF_KEYS = re.compile(r"^http(\..*)?\.sslverify$", re.I)


def _git_config(an: Analyzer, c: SimpleCommand, rest: list[Word]) -> None:
    rv = [w.value or "" for w in rest]
    scope_global = any(v in ("--global", "--system") for v in rv)
    file_w = None
    for k, v in enumerate(rv):
        if v in ("-f", "--file") and k + 1 < len(rest):
            file_w = rest[k + 1]
    pos = [w for w in rest if not (w.value or "").startswith("-")]
    if file_w is not None and file_w in pos:
        pos.remove(file_w)
    reading = (
        any(
            v
            in (
                "--get",
                "--get-all",
                "--list",
                "-l",
                "--get-regexp",
                "--show-origin",
                "--get-urlmatch",
                "--show-scope",
            )
            for v in rv
        )
        or len(pos) <= 1
    )
    if reading and not any(
        v
        in (
            "--unset",
            "--unset-all",
            "--add",
            "--replace-all",
            "--remove-section",
            "--rename-section",
            "-e",
            "--edit",
        )
        for v in rv
    ):
        return
    key = (pos[0].value or "") if pos else ""
    value = " ".join(w.best for w in pos[1:])
    where = "your global git configuration" if scope_global else "the repository's git config"
    if _GIT_EXEC_KEYS.match(key):
        an.add(
            K.PERSISTENCE,
            85 if scope_global else 75,
            f"sets {key} = {short(value, 40)} in {where}: git will run it later, outside "
            "the sandbox",
            *(w.span for w in pos),
        )
        if value and re.search(
            r"pager|editor|sshcommand|askpass|fsmonitor|alias|command|"
            r"textconv|program|clean|smudge|process",
            key,
            re.I,
        ):
            an.fragment(
                value.lstrip("!"),
                None,
                pos[1].span if len(pos) > 1 else c.span,
                c,
                prefix=f"via git {key}: ",
            )
        return
    if _TLS_OFF_KEYS.match(key) and value.lower() in ("false", "0", "no", "off", ""):
        an.add(
            K.NETWORK,
            45,
            f"sets {key} = {short(value, 20)}: git stops checking certificates, so anyone on "
            "the network path can feed it code",
            *(w.span for w in pos),
        )
        return
    if scope_global:
        an.add(K.OUTSIDE_WORKSPACE, 40, f"changes {where} ({key})", c.span)
    elif file_w is not None:
        write_target(an, c, file_w, "changes the git config file")
    else:
        an.add(K.DESTRUCTIVE, 10, f"changes {where} ({key})", c.span)


EXACT: dict[str, Handler] = {
    "git": h_git,
}

FAMILIES: tuple[Family, ...] = ()
