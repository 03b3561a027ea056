"""Deterministic detection of prompt injection in tool outputs, before they reach the model.

The scanner reads text the way a model would: invisible characters are removed (and Unicode tag
characters decoded) before phrases are matched, base64 blobs are decoded and read again, and HTML
comments and CSS-hidden elements are read although a browser would not show them. Each signal has
a weight; no single weak signal (an HTML comment, a badge with a query string, a README section
addressed to coding agents) makes an injection on its own — it takes a strong signal or several.
Spans always point into the original text.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

# A score at or above this is reported as an injection.
THRESHOLD = 50
# Outputs are head+tail capped upstream; this bounds the scanner's work on anything else.
MAX_SCAN_CHARS = 1 << 20
_MAX_DEPTH = 2


@dataclass(frozen=True)
class InjectionFinding:
    kind: str
    reason: str
    span: tuple[int, int]
    weight: int


@dataclass(frozen=True)
class ScanResult:
    injection: bool
    score: int
    findings: tuple[InjectionFinding, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "injection": self.injection,
            "score": self.score,
            "findings": [
                {"kind": f.kind, "reason": f.reason, "span": [f.span[0], f.span[1]]}
                for f in self.findings
            ],
        }


# --- invisible characters ---------------------------------------------------------------------
_ZERO_WIDTH_ALWAYS = frozenset("\u200b\u2060\u2061\u2062\u2063\u2064\u180e")
_ZERO_WIDTH_JOINERS = frozenset("\u200c\u200d")
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_TAG_FIRST, _TAG_LAST = 0xE0000, 0xE007F


def _is_tag(ch: str) -> bool:
    return _TAG_FIRST <= ord(ch) <= _TAG_LAST


@dataclass(frozen=True)
class _Folded:
    """The text as a model reads it, with a map from each of its characters to the original
    (None: the identity, for the common all-ASCII output)."""

    text: str
    origin: tuple[int, ...] | None

    def span(self, start: int, end: int) -> tuple[int, int]:
        if self.origin is None:
            return (start, end)
        if not self.origin:
            return (0, 0)
        s = self.origin[min(start, len(self.origin) - 1)]
        e = self.origin[min(max(end - 1, start), len(self.origin) - 1)] + 1
        return (s, e)


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _fold(text: str) -> _Folded:
    if text.isascii():
        return _Folded(text, None)
    out: list[str] = []
    origin: list[int] = []
    pos = 0
    for m in _NON_ASCII.finditer(text):
        i = m.start()
        if i > pos:
            out.append(text[pos:i])
            origin.extend(range(pos, i))
        pos = i + 1
        ch = text[i]
        if ch in _ZERO_WIDTH_ALWAYS or ch in _ZERO_WIDTH_JOINERS or ch in _BIDI or ch == "\ufeff":
            continue
        if _is_tag(ch):
            code = ord(ch) - _TAG_FIRST
            if 0x20 <= code < 0x7F:
                out.append(chr(code))
                origin.append(i)
            continue
        norm = unicodedata.normalize("NFKC", ch)
        out.append(norm if len(norm) == 1 else ch)
        origin.append(i)
    if pos < len(text):
        out.append(text[pos:])
        origin.extend(range(pos, len(text)))
    return _Folded("".join(out), tuple(origin))


def _is_emoji_side(ch: str) -> bool:
    return ord(ch) >= 0x2600 or unicodedata.category(ch) == "So"


_INVISIBLE = re.compile("[\u200b-\u200d\u2060-\u2064\u180e\ufeff\u202a-\u202e\u2066-\u2069]")


def _invisible_findings(text: str) -> list[InjectionFinding]:
    found: list[InjectionFinding] = []
    if text.isascii():
        return found
    tag_runs = [m for m in re.finditer("[\U000e0000-\U000e007f]+", text)]
    for m in tag_runs:
        decoded = "".join(
            chr(ord(c) - _TAG_FIRST) for c in m.group() if 0x20 <= ord(c) - _TAG_FIRST < 0x7F
        )
        found.append(
            InjectionFinding(
                "hidden-text",
                f"invisible Unicode tag characters spell out {_quote(decoded)}",
                m.span(),
                60,
            )
        )
    zw: list[int] = []
    for m in _INVISIBLE.finditer(text):
        i, ch = m.start(), m.group()
        if ch in _ZERO_WIDTH_ALWAYS or (ch == "\ufeff" and i > 0):
            zw.append(i)
        elif ch in _ZERO_WIDTH_JOINERS:
            before = text[i - 1] if i > 0 else " "
            after = text[i + 1] if i + 1 < len(text) else " "
            if _is_emoji_side(before) or _is_emoji_side(after):
                continue
            if unicodedata.category(before).startswith("L") and not before.isascii():
                continue  # Persian, Indic scripts: joiners are part of the spelling
            zw.append(i)
    if zw:
        found.append(
            InjectionFinding(
                "hidden-text",
                f"{len(zw)} zero-width character{'s' if len(zw) != 1 else ''} "
                "(hidden text, or a keyword split so filters miss it)",
                (zw[0], zw[-1] + 1),
                25,
            )
        )
    bidi = [m.start() for m in _INVISIBLE.finditer(text) if m.group() in _BIDI]
    if bidi:
        found.append(
            InjectionFinding(
                "hidden-text",
                "bidirectional control characters: the text reads in a different order than "
                "it is shown",
                (bidi[0], bidi[-1] + 1),
                25,
            )
        )
    return found


# --- phrase detectors (run on folded text) ----------------------------------------------------
_I = re.IGNORECASE
_AI_NAMES = (
    r"(?:AI|LLMs?|large language models?|language models?|assistants?|AI assistants?|"
    r"AI agents?|coding agents?|agents?|chat ?bots?|bots?|models?|Claude|ChatGPT|GPT(?:-\d+)?|"
    r"Copilot|Codex|Gemini|Cursor|Devin|Aider|automated (?:tools?|assistants?|agents?|systems?)|"
    r"automated reviewers?|autonomous agents?|(?:AI|LLM)[- ]?(?:based |powered )?(?:tools?|systems?|agents?|"
    r"assistants?|models?))"
)
_VERBS = (
    r"(?:run|execute|ignore|send|upload|post|add|append|delete|remove|install|open|read|print|"
    r"include|email|forward|push|commit|export|write|replace|tell|do not|don't|must|should|"
    r"need to|please|output|render|fetch|download|curl|copy|set|change|modify|disable)"
)

_PHRASES: tuple[tuple[str, re.Pattern[str], int, str], ...] = (
    (
        "override",
        re.compile(
            r"\b(?:ignor(?:e|es|ing)|disregard(?:s|ing)?|forget|overrid(?:e|es|ing)|bypass|"
            r"set aside)\b[^.\n]{0,40}?\b(?:previous|prior|above|earlier|preceding|all|any|"
            r"your|original|system|user'?s?|initial|other)\b[^.\n]{0,30}?\b(?:instructions?|"
            r"prompts?|directions?|directives?|guidelines?|rules|orders|requests?|messages?|"
            r"task|guidance|constraints)\b",
            _I,
        ),
        60,
        "tells the model to ignore its instructions",
    ),
    (
        "override",
        re.compile(
            r"\bforget\b[^.\n]{0,15}\b(?:everything|all)\b[^.\n]{0,30}\b(?:told|said|above|"
            r"before|previously|instructions?|learned)\b",
            _I,
        ),
        60,
        "tells the model to forget what it was told",
    ),
    (
        "override",
        re.compile(
            r"\b(?:new|updated|real|actual|revised) (?:instructions?|task|objective|goal|role)"
            r"\s*(?::|is\b|are\b)|\byour (?:new|real|actual|true) (?:task|instructions?|goal|"
            r"objective|role|purpose)\b|\bfrom (?:now|this point) on\b[^.\n]{0,40}\byou\b",
            _I,
        ),
        40,
        "gives the model new instructions",
    ),
    (
        "override",
        re.compile(
            r"\b(?:system|priority|admin|developer|security) override\b|\b(?:safety|security) "
            r"(?:checks?|filters?|rules|restrictions|guardrails) (?:are|have been|were) "
            r"(?:disabled|off|lifted|removed|suspended)\b|\b(?:disable|turn off|bypass|skip|"
            r"escape) (?:the |your |all )?(?:sandbox|safety|security|guardrails|approvals?|"
            r"confirmations?|review)\b|\bis now (?:authori[sz]ed|allowed|permitted) to\b|"
            r"\bdeveloper mode\b[^.\n]{0,20}"
            r"\b(?:enabled|on|activated)\b|\bwithout (?:any )?restrictions\b",
            _I,
        ),
        45,
        "claims the model's safety rules are lifted",
    ),
    (
        "persona",
        re.compile(
            r"\byou are now\b(?! (?:logged|signed|connected|ready|done|subscribed|registered|"
            r"using|on the|able|all set|set up|up to date|running|leaving|viewing|in the "
            r"(?:right|correct)|a member|following))|\bact as (?:the |an? )?(?:repository|repo|"
            r"system|root|admin|owner|maintainer)|\bpretend (?:to be|you are)\b",
            _I,
        ),
        30,
        "tries to give the model a new identity",
    ),
    (
        "addressed",
        re.compile(
            rf"\b(?:if you are|as) an? {_AI_NAMES}\b|\b(?:note|message|instructions?|attention|"
            rf"reminder|hint|request|directive)s? (?:to|for) (?:the |all |any |every )?"
            rf"{_AI_NAMES}\b|\b(?:dear|hey|hi|hello|attention|attn|psst)(?: there)?[,:!]?\s+"
            rf"(?:the |any |all )?"
            rf"{_AI_NAMES}\b|\b{_AI_NAMES} (?:reading|processing|parsing|summari[sz]ing|"
            rf"analy[sz]ing|that reads?|who reads?) (?:this|these|the following)\b|\[\s*"
            rf"(?:assistant|AI|agent|model|LLM) (?:instructions?|note|message|prompt)\s*\]",
            _I,
        ),
        30,
        "addresses an AI assistant directly",
    ),
    (
        "addressed",
        re.compile(
            rf"(?:^|(?<=[\s>(\[\"'`*]))(?:AI|LLM|Assistant|Agent|Claude|ChatGPT|Copilot|Codex|"
            rf"Gemini|Cursor)(?: (?:agents?|assistants?|instructions))?\s*[,:]\s+"
            rf"(?:[\w'-]+\s+){{0,8}}"
            rf"{_VERBS}\b",
            _I | re.MULTILINE,
        ),
        30,
        "addresses an AI assistant directly",
    ),
    (
        "addressed",
        re.compile(
            rf"\b{_AI_NAMES}\b[^.\n]{{0,40}}\b(?:must|shall|are required to|is required to|"
            rf"are instructed to|have to|need to|should|can do this)\b",
            _I,
        ),
        20,
        "tells AI assistants what they must do",
    ),
    (
        "secrecy",
        re.compile(
            r"\b(?:do not|don't|never|without|must not)\s+(?:tell(?:ing)?|inform(?:ing)?|"
            r"mention(?:ing)?|notify(?:ing)?|alert(?:ing)?|ask(?:ing)?|reveal(?:ing)?|"
            r"show(?:ing)?|report(?:ing)?)\b[^.\n]{0,25}?\b(?:the user|users?|anyone|them|"
            r"this|it|for (?:confirmation|permission|approval)|the human|the developer)\b|"
            r"\b(?:silently|secretly|quietly|covertly|discreetly)\s+(?:\w+\s+)?(?:add|run|"
            r"execute|install|send|upload|push|commit|delete|remove|replace|modify|include|"
            r"exfiltrate|copy|insert|change)\b|\bkeep (?:this|it) (?:between us|secret|quiet|"
            r"to yourself|hidden)\b|\btell the user (?:that )?everything is "
            r"(?:fine|ok|okay|normal)\b",
            _I,
        ),
        30,
        "asks to hide what it does from the user",
    ),
    (
        "role-tag",
        re.compile(
            r"<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id)\|>|"
            r"\[/?INST\]|<</?SYS>>",
            _I,
        ),
        50,
        "a chat-template control token inside data",
    ),
    (
        "role-tag",
        re.compile(
            r"</?(?:system|system_message|system-prompt|sys|assistant|tool_result|tool_response|"
            r"function_results|instructions?|admin)(?:\s[^<>]{0,40})?>|^#{2,4}\s*(?:System|"
            r"Instructions?|Assistant|Response)\s*:?\s*$|^(?:SYSTEM|System) ?(?:prompt|message|"
            r"note)?:\s",
            _I | re.MULTILINE,
        ),
        35,
        "a chat role tag inside data",
    ),
)

_AI_GATE: tuple[str, ...] = ("ai", "llm", "assistant", "agent", "claude", "chatgpt", "gpt")
_AI_GATE += ("copilot", "codex", "gemini", "cursor", "devin", "aider", "bot", "model")
_AI_GATE += ("automated", "autonomous", "reviewer")

# Substrings (of the lowercased text) without which a pattern cannot match: a cheap test that
# skips the slow search on ordinary output. Same order as _PHRASES.
_PHRASE_GATES: tuple[tuple[str, ...], ...] = (
    ("ignor", "disregard", "forget", "overrid", "bypass", "set aside"),
    ("forget",),
    (
        "instruction",
        "task",
        "objective",
        "goal",
        "role",
        "from now on",
        "from this point on",
        "purpose",
    ),
    (
        "override",
        "safety",
        "security",
        "disable",
        "turn off",
        "bypass",
        "skip",
        "escape",
        "authori",
        "allowed to",
        "permitted to",
        "developer mode",
        "restriction",
    ),
    ("you are now", "act as", "pretend"),
    (
        "if you are",
        "as a",
        "note",
        "message",
        "instruction",
        "attention",
        "reminder",
        "hint",
        "request",
        "directive",
        "dear",
        "hey",
        "hi",
        "hello",
        "attn",
        "psst",
        "reading",
        "processing",
        "parsing",
        "summari",
        "analy",
        "that read",
        "who read",
        "[",
    ),
    _AI_GATE,
    (*_AI_GATE, "language"),
    (
        "do not",
        "don't",
        "never",
        "without",
        "must not",
        "silently",
        "secretly",
        "quietly",
        "covertly",
        "discreetly",
        "keep this",
        "keep it",
        "tell the user",
    ),
    ("<|", "[inst]", "[/inst]", "<<sys>>", "<</sys>>"),
    ("<", "#", "system"),
)
assert len(_PHRASE_GATES) == len(_PHRASES)

# Commands and names that make an instruction dangerous.
_DANGER: tuple[tuple[re.Pattern[str], int, str], ...] = (
    (
        re.compile(
            r"\b(?:curl|wget)\b[^\n|;]{0,200}\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b|"
            r"\b(?:ba)?sh\s+-c\s+[\"']?\$\((?:curl|wget)\b|\bnc\b[^\n]{0,40}\s-e\s|/dev/tcp/|"
            r"\bbase64\s+(?:-d|--decode)\b[^\n]{0,40}\|\s*(?:ba)?sh\b",
            _I,
        ),
        20,
        "a command that downloads and runs code or opens a shell",
    ),
    (
        re.compile(
            r"~/\.ssh\b|\bid_(?:rsa|ed25519|ecdsa)\b|\.aws/credentials|\.git-credentials|"
            r"\.netrc\b|\.npmrc\b|\.pypirc\b|gh/hosts\.yml|\.docker/config\.json|"
            r"\$(?:\{)?(?:[A-Z_]*(?:API_KEY|TOKEN|SECRET|PASSWORD)[A-Z_]*)\b|"
            r"\b(?:OPENAI|ANTHROPIC|GITHUB|AWS|NPM|PYPI)_[A-Z_]*(?:KEY|TOKEN|SECRET)\b|"
            r"\bprintenv\b|(?<![\w.])\.env\b|\bssh (?:private )?keys?\b|\bprivate keys?\b|"
            r"\b(?:api[ _-]?keys?|access tokens?|credentials)\b",
            _I,
        ),
        20,
        "names secrets or a secret store",
    ),
    (
        re.compile(
            r"\brm\s+-[a-z]*r[a-z]*f?[a-z]*\s+(?:~|/|\$HOME)|\bchmod\s+-R\s+777\b|"
            r"\bgit\s+push\b[^\n]{0,60}(?:--force|https?://|--all|--mirror)|"
            r"\bgit\s+remote\s+add\b|\bindex-url\b[^\n]{0,40}https?://|\.bashrc\b|\.zshrc\b",
            _I,
        ),
        20,
        "a destructive or persistent command",
    ),
)

_DANGER_GATES: tuple[tuple[str, ...], ...] = (
    ("curl", "wget", "nc", "/dev/tcp", "base64"),
    (
        "ssh",
        "id_",
        ".aws",
        "credential",
        ".netrc",
        ".npmrc",
        ".pypirc",
        "hosts.yml",
        ".docker",
        "$",
        "key",
        "token",
        "secret",
        "password",
        "printenv",
        ".env",
    ),
    ("rm", "chmod", "git", "index-url", ".bashrc", ".zshrc"),
)
assert len(_DANGER_GATES) == len(_DANGER)

_SENSITIVE = re.compile(
    r"\b(?:secrets?|api[ _-]?keys?|tokens?|credentials?|passwords?|ssh|private keys?|\.env|"
    r"environment variables|env(?:ironment)? file|printenv|git log|git history|commit history|"
    r"source code|repository|repo|codebase|conversation|chat history|cookies|keys|env|"
    r"workspace|project(?: files)?|the files|zip|tarball|archive)\b|"
    r"~/\.|\$HOME/\.",
    _I,
)
_EXFIL_VERBS = (
    "send",
    "post",
    "upload",
    "transmit",
    "forward",
    "exfiltrat",
    "submit",
    "share",
    "leak",
    "mail",
    "copy",
    "push",
    "include",
    "append",
    "attach",
    "put",
    "pipe",
    "dump",
    "report",
)
_EXFIL = re.compile(
    r"\b(?:send|post|POST|upload|transmit|forward|exfiltrate|submit|share|leak|e-?mail|mail|"
    r"copy|push|include|append|attach|put|pipe|dump|report)\b[^\n]{0,100}?"
    r"(?:\b(?:to|at|into|in|on)\s+(?:https?://|[\w.+-]+@[\w-]+\.[\w.]+|the (?:url|endpoint|"
    r"webhook|summary|reply|response|comment|issue|image)\b|a (?:comment|gist|paste))|"
    r"https?://)",
    _I,
)
_CURL_SEND = re.compile(
    r"\bcurl\b[^\n]{0,120}(?:-X\s*(?:POST|PUT)|--data(?:-binary|-raw|-urlencode)?\b|\s-d\s|"
    r"\s-F\s|-T\s|--upload-file)|\bcurl\b[^\n]{0,80}https?://[^\s]*\$\(|\bdig\b[^\n]{0,20}\$\(",
    _I,
)

_FETCH_FOLLOW = re.compile(
    r"\b(?:fetch|download|read|open|visit|load|retrieve|get)\b[^.\n]{0,80}?https?://[^\s]+"
    r"[^.\n]{0,40}?\b(?:and|then)\s+(?:follow|execute|obey|run|apply|do)\b[^.\n]{0,30}"
    r"\b(?:instructions?|commands?|steps|it|what it says)\b",
    _I,
)
_BEFORE_ANSWER = re.compile(
    r"\bbefore (?:you )?(?:answer|respond|repl(?:y|ies)|continu)(?:ing|e)?\b", _I
)
_DECODE_RUN = re.compile(
    r"\b(?:base64[- ]?)?decode\b[^.\n]{0,30}\b(?:and|then)\s+(?:run|execute|follow|eval|apply|"
    r"obey)\b",
    _I,
)
_COMMENT = re.compile(r"<!--(.{0,4000}?)-->", re.DOTALL)
_HIDDEN_STYLE = re.compile(
    r"<(\w+)[^>]{0,200}?style\s*=\s*[\"'][^\"']*(?:display\s*:\s*none|visibility\s*:\s*hidden|"
    r"font-size\s*:\s*0(?:px|pt|em)?\s*(?:;|[\"'])|opacity\s*:\s*0(?:\.0+)?\s*(?:;|[\"'])|"
    r"(?<!background-)color\s*:\s*(?:#fff(?:fff)?|white|transparent)|height\s*:\s*0|"
    r"left\s*:\s*-\d{3,})[^\"']*[\"'][^>]{0,200}>(.{0,2000}?)</\1>",
    _I | re.DOTALL,
)
_IMAGE = re.compile(r"!\[[^\]\n]{0,300}\]\(\s*<?(https?://[^)\n]{1,600})\)", _I)
_BADGE_HOSTS = (
    "shields.io",
    "badge.fury.io",
    "codecov.io",
    "coveralls.io",
    "github.com",
    "githubusercontent.com",
    "gitlab.com",
    "pepy.tech",
    "readthedocs.org",
    "readthedocs.io",
    "circleci.com",
    "travis-ci.com",
    "travis-ci.org",
    "app.netlify.com",
    "snyk.io",
    "sonarcloud.io",
    "deepwiki.com",
)
_PLACEHOLDER = re.compile(
    r"\{[A-Z][A-Z0-9_]{2,}\}|<[^<>]{3,}>|%3C[^%]{3,}%3E|\$\{?[A-Za-z_]\w*|\$\(|"
    r"\b(?:INSERT|REPLACE|PLACEHOLDER|SECRETS?|TOKEN|PASSWORD|API_?KEY)\w*|"
    r"\b(?:conversation|chat|history|secret|credential|password|env)\b",
)
_RENDER_ASK = re.compile(
    r"\b(?:output|include|append|add|render|insert|embed|show|print|display)\b[^\n]{0,60}"
    r"(?:image|!\[|badge|pixel)|\bin (?:your|the) (?:reply|answer|summary|response|output)\b",
    _I,
)
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{40,}={0,2}(?![A-Za-z0-9+/=_-])")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}){24,}(?![0-9A-Fa-f])")


def _quote(s: str, limit: int = 60) -> str:
    s = " ".join(s.split())
    shown = "".join(c if c.isprintable() else "?" for c in s)
    return f"'{shown[:limit]}…'" if len(shown) > limit else f"'{shown}'"


def _sentence(text: str, start: int, end: int) -> str:
    a = max(text.rfind(".", 0, start), text.rfind("\n", 0, start))
    bs = [i for i in (text.find(".", end), text.find("\n", end)) if i != -1]
    b = min(bs) if bs else len(text)
    return text[a + 1 : b]


# One pattern, one finding: (substring the text must hold, pattern, kind, reason, weight).
_SINGLES: tuple[tuple[str, re.Pattern[str], str, str, int], ...] = (
    (
        "http",
        _FETCH_FOLLOW,
        "override",
        "tells the model to fetch instructions from elsewhere and follow them",
        40,
    ),
    ("before", _BEFORE_ANSWER, "addressed", "speaks to the model about its answer", 20),
    ("decode", _DECODE_RUN, "encoded", "asks to decode hidden content and run or follow it", 30),
)


def _phrase_findings(folded: _Folded) -> list[InjectionFinding]:
    text = folded.text
    found: list[InjectionFinding] = []
    low = text.lower()
    seen: set[str] = set()
    for (kind, pattern, weight, reason), gate in zip(_PHRASES, _PHRASE_GATES, strict=True):
        if reason in seen or not any(g in low for g in gate):
            continue  # two spellings of one signal count once
        m = pattern.search(text)
        if m:
            seen.add(reason)
            found.append(InjectionFinding(kind, reason, folded.span(*m.span()), weight))
    for (pattern, weight, reason), gate in zip(_DANGER, _DANGER_GATES, strict=True):
        if not any(g in low for g in gate):
            continue
        m = pattern.search(text)
        if m:
            found.append(
                InjectionFinding("dangerous-command", reason, folded.span(*m.span()), weight)
            )
    for m in _EXFIL.finditer(text) if any(v in low for v in _EXFIL_VERBS) else ():
        sentence = _sentence(text, m.start(), m.end())
        if _SENSITIVE.search(sentence):
            found.append(
                InjectionFinding(
                    "exfiltration",
                    "asks to send secrets or project data to an outside address",
                    folded.span(*m.span()),
                    50,
                )
            )
            break
    m2 = _CURL_SEND.search(text) if "curl" in low or "dig" in low else None
    if m2:
        end = text.find("\n", m2.end())
        line = text[text.rfind("\n", 0, m2.start()) + 1 : end if end != -1 else len(text)]
        secret = _DANGER[1][0].search(line)
        found.append(
            InjectionFinding(
                "exfiltration",
                "a command that sends a secret out" if secret else "a command that sends data out",
                folded.span(*m2.span()),
                40 if secret else 20,
            )
        )
    for needle, single, kind, reason, weight in _SINGLES:
        m = single.search(text) if needle in low else None
        if m:
            found.append(InjectionFinding(kind, reason, folded.span(*m.span()), weight))
    orders = [f for f in found if f.kind == "addressed"]
    harms = [f for f in found if f.kind in ("dangerous-command", "exfiltration")]
    for o in orders:
        near = [h for h in harms if abs(h.span[0] - o.span[0]) < 300]
        if near:
            found.append(
                InjectionFinding(
                    "addressed",
                    "orders an AI assistant to do something dangerous",
                    (min(o.span[0], near[0].span[0]), max(o.span[1], near[0].span[1])),
                    20,
                )
            )
            break
    return found


def _directive(text: str) -> bool:
    """Does a hidden piece of text give orders (rather than hold a note for maintainers)?"""
    inner = _fold(text)
    return any(
        f.kind in ("override", "addressed", "secrecy", "exfiltration", "dangerous-command")
        for f in _phrase_findings(inner)
    )


def _hidden_markup_findings(text: str) -> list[InjectionFinding]:
    found: list[InjectionFinding] = []
    for m in _COMMENT.finditer(text):
        if _directive(m.group(1)):
            found.append(
                InjectionFinding(
                    "hidden-text",
                    "an HTML comment (not shown when rendered) holds instructions",
                    m.span(),
                    30,
                )
            )
            break
    for m in _HIDDEN_STYLE.finditer(text):
        inner = re.sub(r"<[^>]*>", " ", m.group(2))
        if len(inner.split()) >= 3 and _directive(inner):
            found.append(
                InjectionFinding(
                    "hidden-text",
                    "text hidden by CSS holds instructions",
                    m.span(),
                    30,
                )
            )
            break
    return found


def _image_findings(text: str) -> list[InjectionFinding]:
    found: list[InjectionFinding] = []
    for m in _IMAGE.finditer(text):
        url = m.group(1)
        try:
            parts = urlsplit(url)
        except ValueError:
            continue
        host = (parts.hostname or "").lower()
        if not parts.query or any(host == h or host.endswith("." + h) for h in _BADGE_HOSTS):
            continue
        weight = 20
        reason = "a markdown image whose URL carries a query string (rendering it sends data)"
        if _PLACEHOLDER.search(parts.query):
            weight += 30
            reason = "a markdown image URL with a slot for data (the classic exfiltration channel)"
        around = text[max(0, m.start() - 200) : m.end() + 80]
        if _RENDER_ASK.search(around):
            weight += 20
        found.append(InjectionFinding("image-exfil", reason, m.span(), weight))
    if found:
        return [max(found, key=lambda f: f.weight)]
    return []


def _decode_blob(blob: str) -> str | None:
    raw: bytes
    try:
        if re.fullmatch(r"(?:[0-9A-Fa-f]{2})+", blob):
            raw = binascii.unhexlify(blob)
        else:
            padded = blob + "=" * (-len(blob) % 4)
            raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(1 for c in decoded if c.isprintable() or c in "\n\t")
    if len(decoded) < 16 or printable < 0.9 * len(decoded):
        return None
    return decoded


def _encoded_findings(text: str, depth: int) -> list[InjectionFinding]:
    if depth >= _MAX_DEPTH:
        return []
    found: list[InjectionFinding] = []
    for pattern in (_BASE64, _HEX):
        for m in pattern.finditer(text):
            decoded = _decode_blob(m.group())
            if decoded is None:
                continue
            inner = _scan(decoded, depth + 1)
            if inner.score >= 30 or any(f.kind == "dangerous-command" for f in inner.findings):
                found.append(
                    InjectionFinding(
                        "encoded",
                        f"an encoded blob decodes to instructions: {_quote(decoded)}",
                        m.span(),
                        50,
                    )
                )
                return found
    return found


def _scan(text: str, depth: int) -> ScanResult:
    if len(text) > MAX_SCAN_CHARS:
        half = MAX_SCAN_CHARS // 2
        head, tail = text[:half], text[-half:]
        a, b = _scan(head, depth), _scan(tail, depth)
        offset = len(text) - half
        shifted = tuple(
            InjectionFinding(f.kind, f.reason, (f.span[0] + offset, f.span[1] + offset), f.weight)
            for f in b.findings
        )
        return _combine(a.findings + shifted)
    folded = _fold(text)
    findings = (
        _invisible_findings(text)
        + _phrase_findings(folded)
        + _hidden_markup_findings(text)
        + _image_findings(text)
        + _encoded_findings(text, depth)
    )
    return _combine(tuple(findings))


def _combine(findings: tuple[InjectionFinding, ...]) -> ScanResult:
    ordered = tuple(sorted(findings, key=lambda f: (f.span[0], -f.weight)))
    score = min(100, sum(f.weight for f in ordered))
    return ScanResult(score >= THRESHOLD, score, ordered)


def scan(text: str) -> ScanResult:
    """Scan one tool output. Never raises on any text."""
    return _scan(text, 0)
