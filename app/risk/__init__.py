"""Risk engine: what a proposed action would do, and whether a human must see it.

`engine.RiskEngine` (the `RiskEngine` port) assesses commands, patches and network requests;
`policy.load_policy` builds the layered `PolicyEngine` (built-in < user < project, which may only
tighten). Parsing is `shell.parse` (tree-sitter-bash); families of commands live in the
`commands` package (one module per family, one registry; inline interpreter code in
`commands.inline`), paths in `paths`, package look-alikes in `typosquat`, look-alike characters
in `deception`, patch content in `patch_risk`, rule files in `rules`. README.md beside this file
shows the flow and how to add a family.
"""
