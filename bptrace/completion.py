"""Shell completion scripts, written from the command line's own argparse parser.

``bptrace completion bash|zsh|fish`` prints one; the words come from the parser, so a new command
or option completes without anyone editing a script, and no completion package is needed.
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass, field

SHELLS = ("bash", "zsh", "fish")


@dataclass
class _Command:
    name: str
    help: str
    options: list[str] = field(default_factory=list)  # every spelling: -o, --output
    choices: dict[str, list[str]] = field(default_factory=dict)  # option -> its values
    takes_value: set[str] = field(default_factory=set)  # options followed by a value
    positional_choices: list[str] = field(default_factory=list)


def _commands(parser: argparse.ArgumentParser) -> list[_Command]:
    out = []
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {a.dest: a.help or "" for a in action._choices_actions}
        for name, sub in action.choices.items():
            cmd = _Command(name, helps.get(name, ""))
            for a in sub._actions:
                if not a.option_strings:
                    if a.choices:
                        cmd.positional_choices += [str(c) for c in a.choices]
                    continue
                cmd.options += a.option_strings
                if a.nargs != 0:
                    cmd.takes_value.update(a.option_strings)
                if a.choices:
                    for o in a.option_strings:
                        cmd.choices[o] = [str(c) for c in a.choices]
            out.append(cmd)
    return out


def _top_options(parser: argparse.ArgumentParser) -> list[str]:
    return [o for a in parser._actions for o in a.option_strings]


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    prog = parser.prog
    if shell == "fish":
        return _fish(prog, _commands(parser), _top_options(parser))
    bash = _bash(prog, _commands(parser), _top_options(parser))
    if shell == "zsh":  # zsh runs bash completion functions through bashcompinit
        return f'# zsh completion for {prog}: eval "$({prog} completion zsh)"\nautoload -U +X bashcompinit && bashcompinit\n{bash}'
    return bash


def _bash(prog: str, commands: list[_Command], top: list[str]) -> str:
    fn = "_" + prog.replace("-", "_")
    cases = []
    for c in commands:
        values = []
        for opt, choices in c.choices.items():
            values.append(
                f'            {opt}) COMPREPLY=($(compgen -W {shlex.quote(" ".join(choices))} -- "$cur")); return;;'
            )
        files = sorted(c.takes_value - set(c.choices))
        if files:
            values.append(f'            {"|".join(files)}) COMPREPLY=($(compgen -f -- "$cur")); return;;')
        words = " ".join([*c.options, *c.positional_choices])
        cases.append(
            f"        {c.name})\n"
            f'            case "$prev" in\n'
            + "\n".join(f"    {v}" for v in values)
            + ("\n" if values else "")
            + "            esac\n"
            f'            if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W {shlex.quote(words)} -- "$cur"))\n'
            + (
                f'            else COMPREPLY=($(compgen -W {shlex.quote(" ".join(c.positional_choices))} -- "$cur")); fi;;'
                if c.positional_choices
                else '            else COMPREPLY=($(compgen -f -- "$cur")); fi;;'
            )
        )
    names = " ".join(c.name for c in commands)
    return (
        f'# bash completion for {prog}: eval "$({prog} completion bash)", or save it in your completions folder\n'
        f"{fn}() {{\n"
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" cmd="" i\n'
        "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
        f'        case "${{COMP_WORDS[i]}}" in {names.replace(" ", "|")}) cmd="${{COMP_WORDS[i]}}"; break;; esac\n'
        "    done\n"
        '    case "$cmd" in\n'
        f'        "") COMPREPLY=($(compgen -W {shlex.quote(names + " " + " ".join(top))} -- "$cur"));;\n'
        + "\n".join(cases)
        + "\n    esac\n}\n"
        f"complete -o filenames -F {fn} {prog}\n"
    )


def _fish(prog: str, commands: list[_Command], top: list[str]) -> str:
    lines = [f"# fish completion for {prog}: {prog} completion fish > ~/.config/fish/completions/{prog}.fish"]
    names = " ".join(c.name for c in commands)
    for c in commands:
        lines.append(
            f"complete -c {prog} -n 'not __fish_seen_subcommand_from {names}' -f -a {c.name} -d {shlex.quote(c.help)}"
        )
    for o in top:
        lines.append(f"complete -c {prog} -n 'not __fish_seen_subcommand_from {names}' {_fish_flag(o)}")
    for c in commands:
        seen = f"-n '__fish_seen_subcommand_from {c.name}'"
        if c.positional_choices:
            lines.append(f"complete -c {prog} {seen} -a {shlex.quote(' '.join(c.positional_choices))}")
        for o in dict.fromkeys(c.options):
            extra = ""
            if o in c.choices:
                extra = f" -x -a {shlex.quote(' '.join(c.choices[o]))}"
            elif o in c.takes_value:
                extra = " -r"
            lines.append(f"complete -c {prog} {seen} {_fish_flag(o)}{extra}")
    return "\n".join(lines) + "\n"


def _fish_flag(option: str) -> str:
    return f"-l {option[2:]}" if option.startswith("--") else f"-s {option[1:]}"
