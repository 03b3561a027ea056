"""Which packages an action installs: commands of every package manager the issue names, and
dependencies a patch adds to each kind of manifest."""

from __future__ import annotations

import pytest

from app.deps.extract import from_command, from_patch, manifest_refs


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (
            "pip install requests==2.31.0 flask",
            [("pypi", "requests", "2.31.0"), ("pypi", "flask", None)],
        ),
        ("python3 -m pip install -r req.txt helperz", [("pypi", "helperz", None)]),
        ("sudo pip3 install -e . reqeusts", [("pypi", "reqeusts", None)]),
        ("uv pip install 'httpx[http2]>=0.27'", [("pypi", "httpx", None)]),
        ("uv add httpx && poetry add rich", [("pypi", "httpx", None), ("pypi", "rich", None)]),
        ("pipx install black", [("pypi", "black", None)]),
        (
            "npm i @types/node@20.1.0 lodash",
            [("npm", "@types/node", "20.1.0"), ("npm", "lodash", None)],
        ),
        ("yarn add github-slugger", [("npm", "github-slugger", None)]),
        ("npx create-react-app my-app", [("npm", "create-react-app", None)]),
        ("pnpm dlx cowsay hi", [("npm", "cowsay", None)]),
        ("bunx prettier .", [("npm", "prettier", None)]),
        ("cargo add serde@1.0.1 tokio", [("crates", "serde", "1.0.1"), ("crates", "tokio", None)]),
        ("cargo install ripgrep --version 14.1.0", [("crates", "ripgrep", "14.1.0")]),
        ("go get github.com/foo/bar@v1.2.3", [("go", "github.com/foo/bar", "v1.2.3")]),
        ("go install golang.org/x/tools/gopls@latest", [("go", "golang.org/x/tools/gopls", None)]),
        ("gem install rails -v 7.0.1", [("rubygems", "rails", "7.0.1")]),
        ('bash -c "pip install evilpkg"', [("pypi", "evilpkg", None)]),
        ("pip install ./dist/x.whl git+https://g.example/x https://x.example/y.tar.gz", []),
        ("go get ./...", []),
        ("ls -la && cat README.md", []),
    ],
)
def test_commands(command: str, expected: list[tuple[str, str, str | None]]) -> None:
    assert [(r.ecosystem, r.name, r.version) for r in from_command(command)] == expected


def test_an_index_named_by_the_command_is_kept_with_the_package() -> None:
    (ref,) = from_command("pip install --index-url https://evil.example/simple foo")
    assert ref.index == "https://evil.example/simple"


def test_manifests_in_a_patch() -> None:
    patch = """*** Begin Patch
*** Update File: requirements-dev.txt
@@
 flask==3.0
+lockgate-helperz==0.1  # new
+-r other.txt
*** Update File: package.json
@@
   "dependencies": {
+    "left-pad": "1.3.0",
     "express": "^4.0.0"
*** Update File: Cargo.toml
@@
 [dependencies]
+serde = { version = "1.0", features = ["derive"] }
*** Add File: go.mod
+module example.com/x
+require github.com/evil/mod v0.0.1
*** Update File: Gemfile
@@
 source "https://rubygems.org"
+gem "newgem", "0.0.1"
*** Update File: pyproject.toml
@@
 dependencies = [
+    "brandnew>=0.1",
 ]
*** End Patch
"""
    got = {(r.ecosystem, r.name, r.version, r.origin) for r in from_patch(patch)}
    assert got == {
        ("pypi", "lockgate-helperz", "0.1", "requirements-dev.txt"),
        ("npm", "left-pad", "1.3.0", "package.json"),
        ("crates", "serde", None, "Cargo.toml"),
        ("go", "github.com/evil/mod", "v0.0.1", "go.mod"),
        ("rubygems", "newgem", "0.0.1", "Gemfile"),
        ("pypi", "brandnew", None, "pyproject.toml"),
    }


def test_removed_lines_and_other_files_are_not_installs() -> None:
    patch = """*** Begin Patch
*** Update File: requirements.txt
@@
-oldpkg==1.0
 flask==3.0
*** Update File: src/app.py
@@
+import requests
*** End Patch
"""
    assert from_patch(patch) == []


def test_whole_manifest() -> None:
    refs = manifest_refs(
        "package.json",
        '{\n  "name": "x",\n  "version": "1.0.0",\n  "dependencies": {\n    "lodash": "^4.17.0"\n  }\n}\n',
    )
    assert [(r.ecosystem, r.name) for r in refs or []] == [("npm", "lodash")]
    assert manifest_refs("README.md", "pip install x") is None
