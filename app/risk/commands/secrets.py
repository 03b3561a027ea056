"""Secret stores and keys: password managers, vault CLIs, gpg, ssh keys."""

from __future__ import annotations

from app.core.model import Category as K
from app.risk.analysis import Analyzer
from app.risk.commands.registry import Family, Handler
from app.risk.shell import SimpleCommand

SECRET_TOOLS = frozenset(
    {
        "security",
        "keyctl",
        "pass",
        "gopass",
        "secret-tool",
        "kwallet-query",
        "gnome-keyring-daemon",
        "1password",
        "keepassxc-cli",
        "age",
        "sops",
        "aws-vault",
        "credstash",
        "chamber",
        "ssh-add",
        "docker-credential-desktop",
        "docker-credential-pass",
        "docker-credential-secretservice",
        "git-credential-manager",
        "mimikatz",
        "lazagne",
        "trufflehog",
        "gitleaks",
    }
)


def h_secret_tool(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    vals = " ".join(w.value or "" for w in c.args)
    if name == "ssh-add" and ("-l" in vals or "-L" in vals):
        an.add(K.SECRETS, 10, "lists the keys loaded in the SSH agent", c.span)
        return
    an.ci(c).secrets.append(f"{name}")
    an.facts.reads_secrets.append(name)
    score = 85 if name in ("mimikatz", "lazagne") else 70
    an.add(K.SECRETS, score, f"`{name}` reads stored secrets or keys", c.span)


def _gpg(an: Analyzer, c: SimpleCommand) -> None:
    vals = [w.value or "" for w in c.args]
    if any(v in ("--export-secret-keys", "--export-secret-subkeys") for v in vals):
        an.ci(c).secrets.append("GPG secret keys")
        an.facts.reads_secrets.append("GPG secret keys")
        an.add(K.SECRETS, 80, "exports your GPG secret keys", c.span)
    elif any(v in ("-d", "--decrypt") for v in vals):
        an.ci(c).decoder = True
        an.add(K.SECRETS, 30, "decrypts data with your GPG key", c.span)
    elif any(v in ("--recv-keys", "--send-keys", "--keyserver") for v in vals):
        an.add(K.NETWORK, 36, "talks to a key server", c.span)


EXACT: dict[str, Handler] = {
    "gpg": lambda an, c: _gpg(an, c),
    "ssh-keygen": lambda an, c: an.add(K.SECRETS, 20, "creates or changes SSH keys", c.span),
    "ssh-copy-id": lambda an, c: an.add(
        K.PERSISTENCE, 65, "adds your key to another machine's authorized keys", c.span
    ),
    "ssh-keyscan": lambda an, c: an.add(
        K.NETWORK, 36, "contacts hosts to read their SSH keys", c.span
    ),
}

FAMILIES: tuple[Family, ...] = ((SECRET_TOOLS, h_secret_tool),)
