"""Remote machines and clouds: ssh/scp/rsync (and what a remote command does there), cloud
CLIs.
"""

from __future__ import annotations

import re

from app.core.model import Category as K
from app.risk.analysis import Analyzer, short
from app.risk.commands.args import has, q, split_args
from app.risk.commands.effects import delete_target, read_target, write_target
from app.risk.commands.files import h_copy
from app.risk.commands.registry import Family, Handler
from app.risk.netutil import Target, host_of_scp
from app.risk.shell import SimpleCommand, Word

REMOTE = frozenset(
    {
        "ssh",
        "scp",
        "sftp",
        "rsync",
        "mosh",
        "autossh",
        "sshpass",
        "rcp",
        "rsh",
        "ftp",
        "lftp",
        "tftp",
        "smbclient",
        "rclone",
        "s3cmd",
        "gsutil",
        "azcopy",
    }
)


CLOUD = frozenset(
    {
        "aws",
        "gcloud",
        "az",
        "doctl",
        "heroku",
        "flyctl",
        "fly",
        "vercel",
        "netlify",
        "firebase",
        "wrangler",
        "railway",
        "render",
        "oci",
        "ibmcloud",
        "linode-cli",
        "hcloud",
        "scw",
        "exoscale",
        "supabase",
        "eksctl",
        "sam",
        "cdk",
        "serverless",
        "sls",
        "amplify",
        "copilot",
        "gh",
        "glab",
        "hub",
        "tea",
        "bq",
        "stripe",
        "twilio",
        "vault",
        "consul",
        "nomad",
        "op",
        "bw",
        "lpass",
        "doppler",
        "infisical",
        "sentry-cli",
        "datadog-ci",
        "kaggle",
        "huggingface-cli",
        "hf",
    }
)


def h_remote(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    info = an.ci(c)
    info.network = True
    if name in ("ssh", "mosh", "autossh", "rsh"):
        opts, pos = split_args(
            c.args,
            frozenset(
                {
                    "-i",
                    "-p",
                    "-l",
                    "-o",
                    "-F",
                    "-L",
                    "-R",
                    "-D",
                    "-J",
                    "-W",
                    "-b",
                    "-c",
                    "-e",
                    "-m",
                    "-O",
                    "-Q",
                    "-S",
                    "-w",
                    "-E",
                    "-B",
                    "-I",
                }
            ),
        )
        host = pos[0].best if pos else "a host"
        an.facts.hosts.append(host.split("@")[-1])
        for k in ("-R", "-L", "-D", "-w"):
            if k in opts:
                an.add(K.NETWORK, 55, f"opens a network tunnel through {host}", c.span)
        o = opts.get("-o")
        if o is not None and re.search(
            r"ProxyCommand|LocalCommand|PermitLocalCommand", o.value or "", re.I
        ):
            an.add(K.PRIVILEGE, 60, f"makes ssh run a local program ({q(o)})", o.span)
        idf = opts.get("-i")
        if idf is not None:
            an.add(K.SECRETS, 15, f"logs in with the key {q(idf)}", idf.span)
        if len(pos) > 1:
            remote_cmd = " ".join(w.best for w in pos[1:])
            an.add(
                K.NETWORK, 50, f"runs `{short(remote_cmd)}` on {host}", pos[1].span, pos[-1].span
            )
            _remote_effects(an, c, remote_cmd, pos[1:], host)
        else:
            an.add(K.NETWORK, 45, f"opens a shell on {host}", c.span)
        info.sender = Target("", "remote.invalid", "")
        info.sender_label = host
        return
    if name == "sshpass":
        an.add(K.SECRETS, 45, "passes a password on the command line", c.span)
        return
    # copies: scp, rsync, sftp, rclone, …
    opts, pos = split_args(
        c.args,
        frozenset(
            {
                "-i",
                "-P",
                "-p",
                "-o",
                "-F",
                "-e",
                "--rsh",
                "-l",
                "-c",
                "-S",
                "-J",
                "--exclude",
                "--include",
                "--filter",
                "-f",
                "--files-from",
                "-b",
                "--backup-dir",
                "--config",
            }
        ),
    )
    remote_dst = (pos and host_of_scp(pos[-1].value or "")) or (
        pos and re.match(r"^(s3|gs|az|r2|b2|gcs|sftp|ftp|rsync)://", pos[-1].value or "")
    )
    remote_src = any(
        host_of_scp(w.value or "") or re.match(r"^(s3|gs|az)://", w.value or "") for w in pos[:-1]
    )
    if name == "rsync" and not remote_dst and not remote_src and len(pos) >= 2:
        h_copy(an, c)
        if has(opts, "--delete", "--delete-before", "--delete-after", "--delete-during"):
            delete_target(
                an, c, pos[-1], recursive=True, verb="deletes files not in the source from"
            )
        return
    if remote_dst and pos:
        dst = pos[-1].best
        host = host_of_scp(dst) or dst
        an.facts.hosts.append(host)
        an.facts.sends_data.append(host)
        srcs = pos[:-1]
        for s in srcs:
            read_target(an, c, s)
        listing = ", ".join(q(s) for s in srcs[:3]) or "files"
        an.add(
            K.EXFILTRATION,
            50,
            f"copies {listing} to {short(dst)}",
            *[s.span for s in srcs],
            pos[-1].span,
        )
        if has(opts, "--delete") and name in ("rsync", "rclone"):
            an.add(K.DESTRUCTIVE, 55, f"deletes files on {host} that are not in the source", c.span)
        return
    if remote_src and pos:
        an.add(K.NETWORK, 40, f"copies files from {short(pos[0].best)}", c.span)
        write_target(an, c, pos[-1], "copies into")
        return
    an.add(K.NETWORK, 45, f"`{name}` transfers files over the network", c.span)


def _remote_effects(
    an: Analyzer, c: SimpleCommand, code: str, words: list[Word], host: str
) -> None:
    """What a command run on another machine does there: destruction and persistence count
    just as much on a server; "outside the workspace" means nothing there, so only the worst
    findings are kept."""
    sub = Analyzer(
        code,
        workspace="/nonexistent-remote-workspace",
        home=an.home,
        network="allow",
        depth=an.depth + 1,
        driver=an.driver,
    )
    sub.run()
    span = (words[0].span[0], words[-1].span[1])
    for f in sub.findings:
        if f.score >= 60 and f.category in (
            K.DESTRUCTIVE,
            K.PERSISTENCE,
            K.PRIVILEGE,
            K.SUPPLY_CHAIN,
            K.OBFUSCATION,
            K.EXFILTRATION,
        ):
            reason = f.reason.replace(", outside the workspace", "")
            an.add(f.category, f.score, f"on {host}: {reason}", span)


# Platform CLIs that print a project's secrets: (program, the words that do it).
_SECRET_DUMPS = (
    ("railway", ("variables",)),
    ("railway", ("vars",)),
    ("heroku", ("config",)),
    ("heroku", ("config:get",)),
    ("vercel", ("env", "pull")),
    ("netlify", ("env:list",)),
    ("netlify", ("env:get",)),
    ("render", ("env",)),
    ("flyctl", ("ssh", "console")),
)


def h_cloud(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    an.ci(c).network = True
    vals = [w.value or "" for w in c.args if not (w.value or "").startswith("-")]
    words = " ".join(vals[:4]).lower()
    flags = [w.value or "" for w in c.args if (w.value or "").startswith("-")]
    for prog, sub in _SECRET_DUMPS:
        if (
            name == prog
            and tuple(vals[: len(sub)]) == sub
            and not ({"set", "unset", "--set", "delete"} & set(vals[len(sub) : len(sub) + 1]))
        ):
            an.ci(c).secrets.append(f"{name} variables")
            an.facts.reads_secrets.append(f"{name} variables")
            an.add(
                K.SECRETS,
                70,
                f"`{name} {' '.join(sub)}` prints the project's secrets (API keys, database "
                "passwords): they would reach the agent and its model provider",
                c.span,
            )
            return
    if name == "supabase" and vals[:2] == ["db", "reset"]:
        remote = any(f in ("--linked", "--db-url") or f.startswith("--db-url=") for f in flags)
        an.add(
            K.DESTRUCTIVE,
            80 if remote else 45,
            "`supabase db reset --linked` wipes the linked remote database and replays the "
            "migrations; its data is gone"
            if remote
            else "`supabase db reset` wipes the local development database",
            c.span,
        )
        return
    if name in ("op", "bw", "lpass", "vault", "doppler", "infisical") and re.search(
        r"\b(read|get|show|export|run|kv|item|secrets?|download|login|unlock)\b", words
    ):
        an.ci(c).secrets.append(f"{name} secrets")
        an.facts.reads_secrets.append(f"{name} secrets")
        an.add(K.SECRETS, 70, f"reads secrets from {name}", c.span)
        return
    if re.search(
        r"\b(auth|token|print-access-token|get-access-token|get-session-token|"
        r"get-login-password|credentials|configure get|account get-access-token|"
        r"print-identity-token)\b",
        words,
    ) and not re.search(r"\blogin\b", words):
        an.ci(c).secrets.append(f"{name} token")
        an.facts.reads_secrets.append(f"{name} token")
        an.add(K.SECRETS, 70, f"prints your {name} credentials or token", c.span)
        return
    if re.search(
        r"\b(create-access-key|create-user|create-login-profile|attach-\S*-policy|"
        r"put-\S*-policy|update-assume-role-policy|add-iam-policy-binding|keys create|"
        r"set-iam-policy|create-service-account-key|role assignment create)\b",
        words,
    ):
        an.add(
            K.PRIVILEGE,
            80,
            f"creates credentials or grants permissions with `{name} {short(words, 40)}`",
            c.span,
        )
        return
    if re.search(
        r"\b(delete|rm|remove|destroy|terminate|purge|drop|rb|deregister|"
        r"delete-bucket|nuke|uninstall)\b",
        words,
    ):
        an.add(
            K.DESTRUCTIVE, 70, f"deletes cloud resources with `{name} {short(words, 40)}`", c.span
        )
        return
    if name in ("gh", "glab", "hub", "tea"):
        if re.search(
            r"\b(release create|pr merge|repo create|repo delete|secret|gist create|"
            r"api)\b",
            words,
        ) or vals[:1] == ["api"]:
            an.add(
                K.EXFILTRATION if "gist" in words else K.NETWORK,
                55,
                f"changes things on the code host: `{name} {short(words, 40)}`",
                c.span,
            )
            return
        if re.search(
            r"\b(create|merge|close|edit|comment|review|push|sync|fork|clone|"
            r"upload|delete)\b",
            words,
        ):
            an.add(K.NETWORK, 45, f"acts on the code host: `{name} {short(words, 40)}`", c.span)
            return
        an.add(K.NETWORK, 36, f"reads from the code host: `{name} {short(words, 40)}`", c.span)
        return
    if re.search(
        r"\b(s3 (cp|sync|mv)|storage cp|cp|sync|upload|put|push|deploy|publish|"
        r"create|run|apply|update|set|start|stop|invoke|scale|put-object)\b",
        words,
    ):
        an.add(K.NETWORK, 55, f"changes cloud resources with `{name} {short(words, 40)}`", c.span)
        return
    an.add(
        K.NETWORK,
        40,
        f"talks to the cloud with your credentials: `{name} {short(words, 40)}`",
        c.span,
    )


EXACT: dict[str, Handler] = {
    "nomad": h_cloud,  # also in INFRA: the cloud handler decides
}

FAMILIES: tuple[Family, ...] = (
    (REMOTE, h_remote),
    (CLOUD, h_cloud),
)
