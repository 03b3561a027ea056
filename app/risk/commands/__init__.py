"""What each simple command does, one module per family of programs, all registered in one
registry (`registry.build`); `dispatch.analyze` is the driver an `Analyzer` runs.

Layout (see app/risk/README.md for the flow and how to add a family):
`args` shared argument helpers · `effects` what an argument does to a path or host ·
`registry` the name -> handler mapping · `dispatch` lookup and driver · `generic` what applies to
every command · `flows` pipes and substitutions · `inline` code handed to interpreters ·
families: `files`, `build`, `vcs`, `packages`, `interpreters`, `network`, `remote`, `infra`,
`databases`, `sysadmin`, `secrets`.

Scores follow one scale (see `Level.from_score`): under 15 nothing to look at, 15-34 worth a
line, 35-59 a human should look (network, installs, deletions, history rewrites), 60-84 harm is
likely (secrets, writes outside the workspace, persistence, privilege), 85+ the action is an
attack or a disaster (remote code, exfiltration, wiping the machine).
"""
