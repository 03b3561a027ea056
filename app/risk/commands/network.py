"""Network tools: downloaders (curl, wget, …), raw sockets (nc, socat), DNS, tunnels,
scanners, sniffers and local servers.
"""

from __future__ import annotations

import re

from app.core.model import Category as K
from app.risk.analysis import Analyzer, short
from app.risk.commands.args import UNKNOWN_TARGET, has, q, split_args, val
from app.risk.commands.databases import migration_task
from app.risk.commands.effects import CONTROL_PORTS, _network_note, read_target, write_target
from app.risk.commands.registry import Family, Handler
from app.risk.netutil import Target, parse_target
from app.risk.shell import SimpleCommand, Word

DOWNLOADERS = frozenset(
    {
        "curl",
        "wget",
        "iwr",
        "irm",
        "Invoke-WebRequest",
        "Invoke-RestMethod",
        "curl.exe",
        "http",
        "https",
        "httpie",
        "xh",
        "aria2c",
        "axel",
        "lynx",
        "links",
        "w3m",
        "fetch",
        "lwp-request",
        "GET",
        "HEAD",
    }
)


SERVERS = frozenset(
    {
        "uvicorn",
        "gunicorn",
        "hypercorn",
        "daphne",
        "waitress-serve",
        "flask",
        "http-server",
        "serve",
        "live-server",
        "php-fpm",
        "nginx",
        "httpd",
        "apache2",
        "caddy",
        "jupyter",
        "jupyter-lab",
        "jupyter-notebook",
        "streamlit",
        "gradio",
        "rails",
        "puma",
        "unicorn",
        "thin",
        "redis-server",
        "mongod",
        "postgres",
        "mysqld",
        "memcached",
        "sshd",
        "vsftpd",
        "smbd",
    }
)


TUNNELS = frozenset(
    {
        "ngrok",
        "cloudflared",
        "lt",
        "localtunnel",
        "bore",
        "frpc",
        "chisel",
        "serveo",
        "pagekite",
        "tailscale",
        "zrok",
        "localxpose",
        "telebit",
    }
)


SCANNERS = frozenset(
    {
        "nmap",
        "masscan",
        "zmap",
        "nikto",
        "sqlmap",
        "hydra",
        "medusa",
        "gobuster",
        "dirb",
        "ffuf",
        "wfuzz",
        "rustscan",
        "arp-scan",
        "netdiscover",
        "responder",
        "mitmproxy",
        "ettercap",
        "bettercap",
        "aircrack-ng",
        "john",
        "hashcat",
        "crackmapexec",
        "msfconsole",
        "msfvenom",
        "metasploit",
    }
)


SNIFFERS = frozenset({"tcpdump", "tshark", "wireshark", "dumpcap", "ngrep", "tcpflow"})


RAW_NET = frozenset(
    {"nc", "ncat", "netcat", "socat", "telnet", "openssl", "cryptcat", "pwncat", "sbd", "rlwrap"}
)


DNS_TOOLS = frozenset(
    {
        "dig",
        "nslookup",
        "host",
        "drill",
        "whois",
        "ping",
        "ping6",
        "traceroute",
        "tracepath",
        "mtr",
        "arping",
        "fping",
        "resolvectl",
        "kdig",
        "delv",
    }
)


_CURL_VALUES = frozenset(
    {
        "-o",
        "--output",
        "-d",
        "--data",
        "--data-binary",
        "--data-raw",
        "--data-urlencode",
        "--data-ascii",
        "-F",
        "--form",
        "--form-string",
        "-T",
        "--upload-file",
        "-X",
        "--request",
        "-H",
        "--header",
        "-u",
        "--user",
        "-A",
        "--user-agent",
        "-e",
        "--referer",
        "-x",
        "--proxy",
        "-K",
        "--config",
        "-b",
        "--cookie",
        "-c",
        "--cookie-jar",
        "--json",
        "--output-dir",
        "-m",
        "--max-time",
        "--connect-timeout",
        "-w",
        "--write-out",
        "-r",
        "--range",
        "--retry",
        "-E",
        "--cert",
        "--key",
        "--cacert",
        "--resolve",
        "--connect-to",
        "--url",
        "-U",
        "--proxy-user",
        "--interface",
        "--limit-rate",
        "-y",
        "-Y",
        "-z",
        "-C",
        "--continue-at",
        "--dns-servers",
        "--doh-url",
        "-Q",
        "--quote",
        "--mail-from",
        "--mail-rcpt",
        "--oauth2-bearer",
        "--variable",
        "--expand-data",
        "--expand-url",
        "--unix-socket",
        "--abstract-unix-socket",
        "-D",
        "--dump-header",
        "--trace",
        "--trace-ascii",
        "--stderr",
        "--max-filesize",
        "--retry-delay",
        "--retry-max-time",
        "-P",
        "--ftp-port",
        "--hostpubmd5",
        "--pubkey",
        "--netrc-file",
        "--happy-eyeballs-timeout-ms",
        "--local-port",
        "--socks5",
        "--socks5-hostname",
        "--socks4",
        "--preproxy",
        "--keepalive-time",
    }
)


_WGET_VALUES = frozenset(
    {
        "-O",
        "--output-document",
        "-o",
        "--output-file",
        "-a",
        "--append-output",
        "-P",
        "--directory-prefix",
        "--post-data",
        "--post-file",
        "--body-data",
        "--body-file",
        "--method",
        "-U",
        "--user-agent",
        "--header",
        "-e",
        "--execute",
        "-i",
        "--input-file",
        "-t",
        "--tries",
        "-T",
        "--timeout",
        "--user",
        "--password",
        "--http-user",
        "--http-password",
        "-l",
        "--level",
        "-A",
        "-R",
        "--accept",
        "--reject",
        "-D",
        "--domains",
        "--load-cookies",
        "--save-cookies",
        "-B",
        "--base",
        "--bind-address",
        "-w",
        "--wait",
        "-Q",
        "--quota",
        "--limit-rate",
        "--ca-certificate",
        "--certificate",
        "--private-key",
        "--referer",
        "--config",
    }
)


def h_download(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    info = an.ci(c)
    info.network = True
    if name in ("wget",):
        opts, pos = split_args(c.args, _WGET_VALUES)
    else:
        opts, pos = split_args(c.args, _CURL_VALUES)
    if not pos and has(opts, "--version", "-V", "--help", "-h", "--manual", "-M"):
        info.network = False
        return
    urls: list[Word] = []
    for w in pos:
        if (
            name in ("http", "https", "httpie", "xh")
            and w.value
            and (re.match(r"^[A-Z]+$", w.value) or re.match(r"^[\w.-]+(:=?|==|@)", w.value))
        ):
            if re.match(r"^[\w.-]+@", w.value or ""):
                f = w.value.split("@", 1)[1]
                read_target(an, c, Word(f, f, w.span))
                info.sender_label = "a file"
            continue
        if parse_target(w.value or "") is not None or (
            w.value and not w.value.startswith("-") and not urls
        ):
            urls.append(w)  # curl and wget take any bare word as a URL
    u = val(opts, "--url")
    if u is not None:
        urls.append(u)
    target = None
    for w in urls:
        target = parse_target(w.value or "")
        if target is not None:
            break
    if target is None and urls and urls[0].value:
        guess = urls[0].value.split("/", 1)[0].split("@")[-1].split(":", 1)[0] or urls[0].value
        if re.match(r"^:\d", urls[0].value):
            guess = "localhost"  # httpie's `http :8000/path`
        target = Target(urls[0].value, guess.lower(), "")
    host_word = urls[0] if urls else c.argv[0]
    host = target.host if target else "a host known only at run time"
    if target is None and any(w.dynamic for w in pos):
        dyn = next(w for w in pos if w.dynamic)
        host_word = dyn
        host = f"a URL known only at run time ({q(dyn.text)})"
    # What goes out.
    sends: list[Word] = []
    stdin_send = False
    for k in (
        "-d",
        "--data",
        "--data-binary",
        "--data-raw",
        "--data-urlencode",
        "--data-ascii",
        "-F",
        "--form",
        "-T",
        "--upload-file",
        "--json",
        "--post-data",
        "--post-file",
        "--body-data",
        "--body-file",
    ):
        sw = opts.get(k)
        if sw is None:
            continue
        sends.append(sw)
        v = sw.value or ""
        fileref = None
        if k in ("-T", "--upload-file", "--post-file", "--body-file"):
            fileref = v
        elif "@" in v and k not in ("--data-raw",):
            fileref = (
                v.split("@", 1)[1].split(";", 1)[0]
                if v.startswith("@")
                or (k in ("-F", "--form") and "=@" in v)
                or (k in ("--json",) and v.startswith("@"))
                else None
            )
            if k in ("-F", "--form") and "=<" in v:
                fileref = v.split("=<", 1)[1]
        if fileref in ("-", "/dev/stdin"):
            stdin_send = True
        elif fileref:
            read_target(an, c, Word(fileref, fileref, sw.span))
    method = val(opts, "-X", "--request", "--method")
    if method is not None and (method.value or "").upper() in ("DELETE",):
        an.add(K.DESTRUCTIVE, 45, f"sends a DELETE request to {host}", method.span)
    out = val(opts, "-o", "--output", "-O", "--output-document")
    if name == "wget":
        out = val(opts, "-O", "--output-document")
        prefix = val(opts, "-P", "--directory-prefix")
        if out is None:
            fname = (target.url.rstrip("/").rsplit("/", 1)[-1] if target else "") or "index.html"
            base = prefix.value if prefix is not None and prefix.value else "."
            out = Word(f"{base}/{fname}", fname, host_word.span)
    elif has(opts, "-O", "--remote-name", "--remote-name-all") and target is not None:
        fname = target.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "index.html"
        d = val(opts, "--output-dir")
        out = Word(f"{d.value if d and d.value else '.'}/{fname}", fname, host_word.span)
    to_stdout = out is None or out.value in ("-", "/dev/stdout")
    if to_stdout:
        info.download = target
        if (target is None and urls == [] and any(w.dynamic for w in pos)) or target is None:
            info.download = UNKNOWN_TARGET
    else:
        assert out is not None
        if out.value is not None:
            p = an.path(c, out.value)
            an.facts.downloads.append(p.abs or p.raw)
            info.download_files.append(p.abs or p.raw)
        write_target(an, c, out, "saves the download to")
    if stdin_send:
        info.sender = target
        info.sender_label = host
    if sends:
        an.facts.sends_data.append(host)
        if target is not None:
            an.facts.hosts.append(target.host)
        local = target is not None and target.local and (target.port or 0) not in CONTROL_PORTS
        an.add(
            K.EXFILTRATION,
            15 if local else 60,
            f"sends data to {host}" + (" (a service on this machine)" if local else ""),
            *[w.span for w in sends],
        )
    if target is not None:
        what = "downloads " + short(target.url, 70) if not sends else f"contacts {target.host}"
        _network_note(an, c, target, what, host_word, score=42)
    else:
        an.add(K.NETWORK, 45, f"contacts {host}", host_word.span)
    if has(opts, "-k", "--insecure", "--no-check-certificate"):
        an.add(K.NETWORK, 20, "turns off TLS certificate checks", c.span)
    cfg = val(opts, "-K", "--config", "-e", "--execute")
    if cfg is not None:
        an.add(K.NETWORK, 40, f"reads extra options from {q(cfg)}", cfg.span)


def h_raw_net(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    info = an.ci(c)
    info.network = True
    vals = [w.value or "" for w in c.args]
    if name == "openssl":
        sub = vals[0] if vals else ""
        if sub in ("s_client", "s_server"):
            an.add(K.NETWORK, 50, f"opens a TLS connection ({sub})", c.span)
            info.sender = parse_target(next((v for v in vals[1:] if ":" in v), "") or "") or None
            info.sender_label = "a TLS peer"
        elif sub in ("enc", "base64") and ("-d" in vals or "-decode" in vals):
            info.decoder = True
        elif sub in (
            "genrsa",
            "genpkey",
            "req",
            "x509",
            "rand",
            "dgst",
            "version",
            "rsa",
            "ec",
            "pkey",
            "verify",
            "list",
            "speed",
            "ciphers",
        ):
            for k, v in enumerate(vals):
                if v in ("-out", "-keyout") and k + 1 < len(c.args):
                    write_target(an, c, c.args[k + 1])
                if v in ("-in",) and k + 1 < len(c.args):
                    read_target(an, c, c.args[k + 1])
            info.network = False
        else:
            info.network = False
        return
    if name in ("socat",):
        text = " ".join(vals)
        if re.search(r"\b(EXEC|SYSTEM):", text, re.I):
            an.add(
                K.PRIVILEGE,
                95,
                "connects a network socket to a program it runs: a remote shell",
                c.span,
            )
        if re.search(r"LISTEN", text, re.I):
            an.add(K.NETWORK, 55, "listens for network connections", c.span)
        m = re.search(r"TCP\d?:([^:,\s]+):(\d+)", text, re.I)
        if m:
            info.sender = parse_target(m.group(1))
            info.sender_label = f"{m.group(1)}:{m.group(2)}"
            an.facts.hosts.append(m.group(1))
            an.add(K.NETWORK, 60, f"opens a raw connection to {m.group(1)}:{m.group(2)}", c.span)
        return
    if name == "rlwrap":
        return
    opts, pos = split_args(
        c.args,
        frozenset(
            {
                "-e",
                "-c",
                "-p",
                "-s",
                "-w",
                "-i",
                "-q",
                "-x",
                "-X",
                "--exec",
                "--sh-exec",
                "--lua-exec",
                "-g",
                "-G",
                "-o",
                "-O",
            }
        ),
    )
    execw = val(opts, "-e", "-c", "--exec", "--sh-exec", "--lua-exec")
    if execw is not None:
        an.add(
            K.PRIVILEGE, 95, f"hands a network connection to {q(execw)}: a remote shell", execw.span
        )
    if has(opts, "-l", "--listen"):
        port = pos[0].best if pos else "a port"
        an.add(K.NETWORK, 55, f"listens for network connections on {port}", c.span)
        return
    hosts = [w for w in pos if not (w.value or "").isdigit()]
    if hosts:
        h = hosts[0]
        port = next((w.best for w in pos if (w.value or "").isdigit()), "?")
        info.sender = parse_target(h.value or "") or UNKNOWN_TARGET
        info.sender_label = f"{h.best}:{port}"
        an.facts.hosts.append(h.best)
        an.add(K.NETWORK, 60, f"opens a raw connection to {h.best}:{port}", h.span)


def h_dns(an: Analyzer, c: SimpleCommand) -> None:
    an.ci(c).network = True
    names = [w for w in c.args if not (w.value or "-").startswith(("-", "+", "@"))]
    label = q(names[0]) if names else "a name"
    for w in names:
        if w.subs:
            an.add(K.NETWORK, 45, f"looks up a DNS name built at run time ({q(w.text)})", w.span)
            an.ci(c).sender = Target("", "dns.invalid", "")
            an.ci(c).sender_label = "a DNS query"
            return
    an.add(K.NETWORK, 36, f"queries the network about {label}", c.span)


def h_tunnel(an: Analyzer, c: SimpleCommand) -> None:
    an.ci(c).network = True
    an.add(K.EXFILTRATION, 75, f"`{c.name}` exposes a local service to the internet", c.span)


def h_scanner(an: Analyzer, c: SimpleCommand) -> None:
    an.ci(c).network = True
    an.add(K.NETWORK, 70, f"`{c.name}` is an attack or scanning tool", c.span)


def h_sniffer(an: Analyzer, c: SimpleCommand) -> None:
    vals = [w.value or "" for w in c.args]
    reading = [k for k, v in enumerate(vals) if v == "-r" or (v.startswith("-r") and len(v) > 2)]
    live = any(v in ("-i", "--interface") or v.startswith("-i") for v in vals)
    if reading and not live:
        # `tshark -r file.pcap`: reads a saved capture, listens to nothing.
        k = reading[0]
        if vals[k] == "-r" and k + 1 < len(c.args):
            read_target(an, c, c.args[k + 1])
        an.add(K.RESOURCE, 5, f"`{c.name}` reads a saved capture file", c.span)
        return
    an.add(K.PRIVILEGE, 65, f"`{c.name}` captures network traffic", c.span)


def h_server(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    if name in ("rails",) and not any(w.value in ("s", "server") for w in c.args):
        if migration_task(an, c, name, list(c.args)):
            return
        if any((w.value or "").startswith("db:") for w in c.args):
            an.add(K.DESTRUCTIVE, 40, "changes the database (rails db task)", c.span)
        else:
            an.add(K.RESOURCE, 5, "runs a rails task", c.span)
        return
    if name == "flask" and not any(w.value == "run" for w in c.args):
        if migration_task(an, c, name, list(c.args)):
            return
        if any((w.value or "").startswith("db") for w in c.args):
            an.add(K.DESTRUCTIVE, 40, "changes the database (flask db)", c.span)
        return
    if name.startswith("jupyter") and any(w.value in ("nbconvert", "execute") for w in c.args):
        an.add(K.RESOURCE, 5, "runs notebooks", c.span)
        return
    an.add(
        K.NETWORK,
        40,
        f"starts `{name}`, a server that listens for connections and keeps running",
        c.span,
    )


EXACT: dict[str, Handler] = {
    "torsocks": lambda an, c: an.add(K.NETWORK, 50, "routes traffic through Tor", c.span),
    "proxychains": lambda an, c: an.add(K.NETWORK, 50, "routes traffic through proxies", c.span),
    "proxychains4": lambda an, c: an.add(K.NETWORK, 50, "routes traffic through proxies", c.span),
}

FAMILIES: tuple[Family, ...] = (
    (DOWNLOADERS, h_download),
    (SERVERS, h_server),
    (TUNNELS, h_tunnel),
    (SCANNERS, h_scanner),
    (SNIFFERS, h_sniffer),
    (RAW_NET, h_raw_net),
    (DNS_TOOLS, h_dns),
)
