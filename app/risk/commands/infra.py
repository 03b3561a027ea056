"""Containers and infrastructure: docker/podman, kubectl/helm, terraform and friends."""

from __future__ import annotations

import re

from app.core.model import Category as K
from app.risk.analysis import Analyzer
from app.risk.commands.registry import Family, Handler
from app.risk.shell import SimpleCommand

INFRA = frozenset(
    {
        "terraform",
        "tofu",
        "terragrunt",
        "pulumi",
        "kubectl",
        "k9s",
        "helm",
        "kustomize",
        "ansible",
        "ansible-playbook",
        "salt",
        "puppet",
        "chef-client",
        "knife",
        "vagrant",
        "packer",
        "nomad",
        "oc",
        "minikube",
        "kind",
        "k3d",
        "skaffold",
        "tilt",
        "argocd",
        "flux",
        "istioctl",
        "linkerd",
        "crossplane",
    }
)


CONTAINERS = frozenset(
    {
        "docker",
        "podman",
        "nerdctl",
        "buildah",
        "ctr",
        "crictl",
        "lxc",
        "lxd",
        "incus",
        "systemd-nspawn",
        "docker-compose",
        "podman-compose",
        "colima",
        "lima",
        "limactl",
        "multipass",
        "virsh",
        "qemu-system-x86_64",
    }
)


def h_infra(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    vals = [w.value or "" for w in c.args if not (w.value or "").startswith("-")]
    sub = vals[0] if vals else ""
    an.ci(c).network = True
    if name in ("terraform", "tofu", "terragrunt", "pulumi"):
        if (
            sub
            in (
                "fmt",
                "validate",
                "version",
                "graph",
                "console",
                "providers",
                "show",
                "output",
                "workspace",
            )
            and sub != ""
        ):
            an.add(
                K.RESOURCE,
                10 if sub != "output" else 30,
                f"`{name} {sub}` inspects the infrastructure code",
                c.span,
            )
            return
        if sub in ("apply", "up", "import", "taint", "untaint", "state", "refresh"):
            auto = any(
                (w.value or "") in ("-auto-approve", "--auto-approve", "--yes", "-y")
                for w in c.args
            )
            an.add(
                K.DESTRUCTIVE,
                75 if auto else 65,
                f"`{name} {sub}` changes real infrastructure" + (" without asking" if auto else ""),
                c.span,
            )
            return
        if sub in ("destroy", "down"):
            an.add(K.DESTRUCTIVE, 85, f"`{name} {sub}` destroys real infrastructure", c.span)
            return
        an.add(
            K.NETWORK,
            40,
            f"`{name} {sub or ''}` talks to cloud providers with your credentials",
            c.span,
        )
        return
    if name in ("kubectl", "oc", "helm"):
        if sub in ("completion", "help", "explain", "") or (
            sub == "version" and any(w.value == "--client" for w in c.args)
        ):
            an.ci(c).network = False
            an.add(K.RESOURCE, 5, f"`{name} {sub}` prints local information", c.span)
            return
        if sub in ("delete", "uninstall", "drain", "cordon", "taint"):
            an.add(K.DESTRUCTIVE, 70, f"`{name} {sub}` removes things from the cluster", c.span)
        elif sub in (
            "apply",
            "create",
            "patch",
            "edit",
            "scale",
            "rollout",
            "replace",
            "set",
            "install",
            "upgrade",
            "label",
            "annotate",
            "expose",
            "run",
            "exec",
            "cp",
            "attach",
            "debug",
        ):
            an.add(K.NETWORK, 60, f"`{name} {sub}` changes or enters the cluster", c.span)
        elif (
            sub in ("config",)
            and any((w.value or "") in ("view",) for w in c.args)
            and any((w.value or "") in ("--raw", "--flatten") for w in c.args)
        ):
            an.ci(c).secrets.append("kube credentials")
            an.facts.reads_secrets.append("kube credentials")
            an.add(K.SECRETS, 70, "prints the cluster credentials", c.span)
        elif sub in ("port-forward", "proxy"):
            an.add(K.NETWORK, 45, f"`{name} {sub}` opens a tunnel into the cluster", c.span)
        else:
            an.add(
                K.NETWORK,
                38,
                f"`{name} {sub}` reads from the cluster with your credentials",
                c.span,
            )
        return
    if name in ("ansible", "ansible-playbook", "salt", "puppet", "chef-client", "knife"):
        an.add(K.NETWORK, 60, f"`{name}` runs changes on other machines", c.span)
        return
    an.add(K.NETWORK, 45, f"`{name} {sub}` manages infrastructure", c.span)


def h_container(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    vals = [w.value or "" for w in c.args]
    pos = [v for v in vals if not v.startswith("-")]
    sub = pos[0] if pos else ""
    if name in ("docker-compose", "podman-compose") or sub == "compose":
        act = pos[1] if sub == "compose" and len(pos) > 1 else sub
        if act in ("ps", "logs", "config", "ls", "images", "top", "version"):
            an.add(K.PRIVILEGE, 15, f"`{name} compose {act}` inspects containers", c.span)
        elif act in ("down", "rm", "kill"):
            an.add(K.DESTRUCTIVE, 45, f"`{name} compose {act}` removes containers", c.span)
        else:
            an.add(
                K.PRIVILEGE,
                50,
                f"`{name} compose {act}` starts containers through the "
                "container daemon, outside this sandbox",
                c.span,
            )
        return
    joined = " ".join(vals)
    if not sub or sub == "help":
        an.add(K.PRIVILEGE, 5, f"asks `{name}` for help or its version", c.span)
        return
    if sub in (
        "ps",
        "images",
        "logs",
        "inspect",
        "version",
        "info",
        "stats",
        "top",
        "history",
        "search",
        "port",
        "diff",
        "events",
        "list",
        "ls",
    ):
        an.add(K.PRIVILEGE, 15, f"`{name} {sub}` inspects containers", c.span)
        return
    danger = re.search(
        r"--privileged|--pid[= ]host|--net(work)?[= ]host|--cap-add|"
        r"docker\.sock|--security-opt[= ]\S*unconfined|--userns[= ]host|"
        r"--device",
        joined,
    )
    mount_root = None
    for k, v in enumerate(vals):
        spec = None
        if v in ("-v", "--volume", "--mount") and k + 1 < len(vals):
            spec = vals[k + 1]
        elif v.startswith(("--volume=", "--mount=", "-v")) and len(v) > 2:
            spec = v.split("=", 1)[1] if "=" in v and v.startswith("--") else v[2:]
        if spec:
            src = spec.split(":", 1)[0]
            if src.startswith("source="):
                src = src[7:].split(",", 1)[0]
            if src and src.startswith(("/", "~")):
                info = an.path(c, src)
                if info.where == "outside" and (info.broad or info.secret or info.persistence):
                    mount_root = info.display
    if danger or mount_root:
        what = (
            f"mounts {mount_root} into it"
            if mount_root
            else f"uses {danger.group(0) if danger else ''}"
        )
        an.add(
            K.PRIVILEGE,
            85,
            f"`{name} {sub}` starts a container that {what}: root access to this machine",
            c.span,
        )
        return
    if sub in ("run", "exec", "create", "start", "attach", "cp", "commit"):
        an.add(
            K.PRIVILEGE,
            50,
            f"`{name} {sub}` runs a container through the container daemon, outside this sandbox",
            c.span,
        )
    elif sub in ("build", "buildx"):
        an.add(
            K.PRIVILEGE,
            45,
            f"`{name} {sub}` builds an image: its steps run through the "
            "daemon with network access, outside this sandbox",
            c.span,
        )
    elif sub in ("push", "login", "logout", "tag", "save", "export"):
        cat = K.EXFILTRATION if sub in ("push", "save", "export") else K.SECRETS
        an.add(
            cat, 55, f"`{name} {sub}` publishes or exports images / registry credentials", c.span
        )
    elif sub in (
        "rm",
        "rmi",
        "prune",
        "kill",
        "stop",
        "system",
        "volume",
        "network",
        "image",
        "container",
    ):
        an.add(
            K.DESTRUCTIVE, 45, f"`{name} {' '.join(pos[:2])}` removes or stops containers", c.span
        )
    elif sub in ("pull",):
        an.add(K.SUPPLY_CHAIN, 40, f"`{name} pull` downloads an image", c.span)
    else:
        an.add(K.PRIVILEGE, 45, f"`{name} {sub}` drives the container daemon", c.span)


EXACT: dict[str, Handler] = {
    "docker": h_container,
}

FAMILIES: tuple[Family, ...] = (
    (INFRA, h_infra),
    (CONTAINERS, h_container),
)
