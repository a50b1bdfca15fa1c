"""The bptrace command line. ``cli(argv) -> exit status`` so tests call it directly.

Exit status: 0 done; 1 an internal fault; 2 bad input (one line on stderr, nothing written);
3 training diverged (the trace up to that point is written); for ``check``, 1 means a wrong answer.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence

from . import titles
from ._version import __version__
from .errors import SpecError
from .fields import short

FORMATS = ("md", "html", "json", "lecture")
LANGS = ("en", "zh")

EPILOG_MAIN = """examples:
  bptrace run                                   the article's example into bptrace-out/
  bptrace examples article > my.toml            start a spec of your own
  bptrace run my.toml --lang zh -o out          a worked example in Chinese
  bptrace check my.toml answers.toml            grade a hand calculation
  bptrace exercises my.toml --count 30 -o set   30 exercise sheets with answer keys

each command has --help with examples of its own; a spec or answers file given as - is read
from standard input; bptrace completion bash|zsh|fish prints a shell completion script.

environment: BPTRACE_DEBUG=1 shows the Python traceback of an internal error instead of one line.
"""
EPILOG_RUN = """examples:
  bptrace run                          the article's 2-2-2 network: report.md, report.html, trace.json
  bptrace run --lang zh -o out         the same in Chinese, into out/
  bptrace run xor --iterations 2000    a built-in example with more iterations
  bptrace run my.toml --format md -o - one format to stdout
  bptrace run --rounding hand:4        carry values rounded to 4 decimals, as by hand
  bptrace run --rounding sig:4         carry 4 significant figures, as with a calculator
  bptrace run my.toml --derive w2,w6   derive w2 and w6 in full instead of each layer's first weight
"""
EPILOG_RENDER = """examples:
  bptrace render bptrace-out/trace.json --lang zh -o zh
  bptrace render trace.json --format html --digits 4 -o -
"""
EPILOG_EXAMPLES = """examples:
  bptrace examples                     list the built-in specs
  bptrace examples article > my.toml   start a spec of your own from one
"""
EPILOG_CHECK = """examples:
  bptrace check article answers.toml           grade values written as  "out.o1" = 0.7514
  bptrace check my.toml answers.toml --format md -o feedback.md
  bptrace check my.toml answers.toml --lang zh --format json
  bptrace check my.toml answers/ --summary class.csv    a class: class.csv and class.md
  bptrace check article answers.toml --rounding sig:4    accept values carried at 4 significant figures

keys: kind.name as in the report's tables (net.h1, out.o1, error.o1, total_error, delta.o1,
grad.w5, update.w5 = the new value, "partial.dE_total/dout_o1"); plain keys look in the first
step; "sample2.net.h1" and "batch.grad.w5" reach the other steps of the first iteration.
right: agrees to the places written with at least --min-digits significant digits (3), or
within a relative 1e-12; every wrong value is explained with its cause.
exit status: 0 all right, 1 something wrong, too few digits or an unknown key, 2 a file that
cannot be read.
"""
EPILOG_EXERCISES = """examples:
  bptrace exercises article --count 30 --seed 7 -o class     30 sheets: class/students/001 ...
  bptrace exercises my.toml --count 200 --decimals 1 --lang zh -o set
  bptrace exercises my.toml --ask all -o long               every quantity of the step
  bptrace exercises my.toml --ask "net.*,out.*,grad.w5"     just these
  bptrace check class answers/ --summary class.csv          grade the class, each file by its variant

students/NNN holds question.md/.html and spec.json; teachers/NNN holds answer.md/.html,
answers.toml and spec.json; teachers/index.md and teachers/class-summary.md, students/index.md.
A [vary] table in the spec (spread, decimals, weights/biases/inputs/targets = [low, high] or
false) sets how numbers are drawn; drawn inputs stay at least 0.05 from 0.
"""
EPILOG_VALIDATE = """examples:
  bptrace validate my.toml             say what is wrong, or print a summary (exit 0)
  cat my.toml | bptrace validate -     the spec from standard input
  bptrace validate my.toml --format json
"""
EPILOG_SCHEMA = """examples:
  bptrace schema spec > spec.schema.json    for an editor: "$schema" in a JSON spec, or a
                                            #:schema comment at the top of a TOML spec (taplo)
  bptrace schema trace                      the JSON Schema of trace.json
"""
EPILOG_COMPLETION = """examples:
  eval "$(bptrace completion bash)"                  in ~/.bashrc
  eval "$(bptrace completion zsh)"                   in ~/.zshrc
  bptrace completion fish > ~/.config/fish/completions/bptrace.fish
"""
EPILOG_EXPORT = """examples:
  bptrace export torch my.toml > train.py    a PyTorch script that trains the same network
  python train.py                            prints the final parameters under bptrace's names
  bptrace export torch article -o train.py
"""


def _columns() -> int:
    """The terminal's width as shutil.get_terminal_size() gives it: COLUMNS, else the terminal
    of standard output, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter, told its width: argparse makes one for every option it adds, and
    left to find the width itself it loads shutil, which loads zlib, bz2 and lzma, in a run that
    prints no help."""

    def __init__(
        self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None
    ) -> None:
        super().__init__(prog, indent_increment, max_help_position, _columns() - 2 if width is None else width)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # one line, like every other bad input
        sys.stderr.write(f"bptrace: {message} (see: {self.prog} --help)\n")
        raise SystemExit(2)


TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, NoReturn

    _Commands = argparse._SubParsersAction[_Parser]  # argparse names no public type for it


def _detail(s: str) -> int | str:
    if s == "all":
        return s
    try:
        n = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a count or 'all', got {s!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"expected a count of at least 0, got {n}")
    return n


def _int_range(lo: int, hi: int) -> Callable[[str], int]:
    def parse(s: str) -> int:
        try:
            n = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {s!r}") from None
        if not lo <= n <= hi:
            raise argparse.ArgumentTypeError(f"expected {lo} to {hi}, got {n}")
        return n

    return parse


def _formats(allowed: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(s: str) -> list[str]:
        items = [f.strip() for f in s.split(",") if f.strip()]
        bad = [f for f in items if f not in allowed]
        if bad or not items:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(allowed)}, got {s!r}")
        return list(dict.fromkeys(items))

    return parse


def _report_options(p: argparse.ArgumentParser, formats: Sequence[str], default: str) -> None:
    p.add_argument(
        "-o",
        "--output",
        default="bptrace-out",
        metavar="DIR",
        help="folder to write into (default bptrace-out); - for stdout",
    )
    p.add_argument(
        "--format",
        type=_formats(formats),
        default=default.split(","),
        metavar="LIST",
        help=f"comma-separated, of {', '.join(formats)} (default {default})",
    )
    p.add_argument("--lang", choices=LANGS, default="en", help="language of the reports (default en)")
    p.add_argument(
        "--digits",
        type=_int_range(1, 15),
        default=None,
        metavar="D",
        help="decimal places shown in reports (default 9, as the article)",
    )
    p.add_argument(
        "--templates", metavar="DIR", help="a folder of templates that come before the built-in ones (default: none)"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors (default: off)")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line; ``only`` (a command's name) builds that command's parser alone, which is
    all a command needs to parse its arguments: every parser argparse makes looks for message
    catalogues on disk, a cost each run would pay nine times over."""
    p = _Parser(
        prog="bptrace",
        description="Backpropagation made visible: trace a small network and render a worked example.",
        epilog=EPILOG_MAIN,
        formatter_class=_Formatter,
    )
    p.add_argument("--version", action="version", version=f"bptrace {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, add in _COMMAND_PARSERS.items():
        if only is None or name == only:
            add(sub)
    return p


def _run_command(sub: _Commands) -> None:
    run = sub.add_parser(
        "run",
        help="trace a spec and write the reports",
        epilog=EPILOG_RUN,
        formatter_class=_Formatter,
    )
    run.add_argument(
        "spec",
        nargs="?",
        default="article",
        help="a TOML/JSON spec, a trace.json to run its spec again, a built-in name, or - for stdin (default article)",
    )
    _report_options(run, FORMATS, "md,html,json")
    run.add_argument(
        "--iterations",
        type=_int_range(1, 10**18),
        metavar="N",
        help="override the spec's iterations (default: the spec's)",
    )
    run.add_argument(
        "--detail",
        type=_detail,
        default=None,
        metavar="N|all",
        help="iterations traced in full (default 1; 2 when an optimizer updates once per iteration)",
    )
    run.add_argument(
        "--rounding",
        metavar="MODE",
        help="exact; hand:N carries values rounded to N decimal places, sig:N to N significant figures "
        "(default: the spec's)",
    )
    run.add_argument(
        "--derive", metavar="W,W", type=lambda s: [w.strip() for w in s.split(",")],
        help="the weights to derive in full, one per layer (default: the first whose input is not 0)",
    )  # fmt: skip
    run.add_argument("--no-limit", action="store_true", help="lift the resource limits (default: limits on)")


def _render_command(sub: _Commands) -> None:
    ren = sub.add_parser(
        "render",
        help="render reports from a saved trace.json",
        epilog=EPILOG_RENDER,
        formatter_class=_Formatter,
    )
    ren.add_argument("trace", help="a trace.json written by bptrace run")
    _report_options(ren, FORMATS, "md,html")


def _examples_command(sub: _Commands) -> None:
    ex = sub.add_parser(
        "examples",
        help="list the built-in specs, or print one as TOML",
        epilog=EPILOG_EXAMPLES,
        formatter_class=_Formatter,
    )
    ex.add_argument("name", nargs="?", help="the example to print as TOML (default: list them all)")


def _check_command(sub: _Commands) -> None:
    chk = sub.add_parser(
        "check",
        help="grade a student's values and explain every mistake",
        epilog=EPILOG_CHECK,
        formatter_class=_Formatter,
    )
    chk.add_argument(
        "spec",
        help="the spec the exercise is about (file, built-in name, or - for stdin), or an exercise set's folder",
    )
    chk.add_argument(
        "answers", nargs="+", help="TOML or JSON files of quantity keys and values, folders of them, or - for stdin"
    )
    chk.add_argument(
        "--format", choices=("text", "md", "json"), default="text", help="plain lines (default), Markdown or JSON"
    )
    chk.add_argument("-o", "--output", default="-", metavar="FILE", help="where to write (default: stdout)")
    chk.add_argument("--lang", choices=LANGS, default="en", help="language of the feedback (default en)")
    chk.add_argument(
        "--rounding",
        metavar="MODE",
        help="hand:N or sig:N: the exercise carries values rounded so (default: the spec's)",
    )
    chk.add_argument(
        "--digits", type=_int_range(1, 15), default=None, metavar="D", help="places of expected values (default 9)"
    )
    chk.add_argument(
        "--min-digits", type=_int_range(0, 15), default=3, metavar="K",
        help="significant digits an answer needs to be judged (default 3)",
    )  # fmt: skip
    chk.add_argument(
        "--summary", metavar="FILE.csv", help="a class summary: one row per file, as CSV and Markdown (default: none)"
    )
    chk.add_argument(
        "--misconceptions",
        metavar="FILE",
        help="a TOML table of misconceptions to try after the built-in ones (default: none)",
    )


def _exercises_command(sub: _Commands) -> None:
    exe = sub.add_parser(
        "exercises",
        help="write N variants of a spec with questions, answers and keys",
        epilog=EPILOG_EXERCISES,
        formatter_class=_Formatter,
    )
    exe.add_argument(
        "spec", nargs="?", default="article", help="a TOML/JSON spec, a built-in name, or - for stdin (default article)"
    )
    exe.add_argument("--count", type=_int_range(1, 10_000), default=30, metavar="N", help="variants (default 30)")
    exe.add_argument(
        "--seed", type=_int_range(0, 2**63 - 1), default=0, metavar="S", help="same seed, same files (default 0)"
    )
    exe.add_argument("-o", "--output", default="exercises", metavar="DIR", help="folder (default exercises)")
    exe.add_argument(
        "--spread",
        type=float,
        default=None,
        metavar="X",
        help="draw within ±X of each value (default 0.1, or the spec's)",
    )
    exe.add_argument(
        "--decimals", type=_int_range(0, 6), default=None, metavar="D", help="places drawn (default 2, or the spec's)"
    )
    exe.add_argument("--lang", choices=LANGS, default="en", help="language of the sheets (default en)")
    exe.add_argument(
        "--digits", type=_int_range(1, 15), default=None, metavar="D", help="decimal places shown (default 9)"
    )
    exe.add_argument(
        "--templates", metavar="DIR", help="a folder of templates that come before the built-in ones (default: none)"
    )
    exe.add_argument(
        "--ask", default="default", metavar="LIST",
        help="the quantities a sheet asks for: default (about half an hour), all, or keys and patterns (grad.*)",
    )  # fmt: skip
    exe.add_argument(
        "--jobs", type=_int_range(1, 64), default=None, metavar="J", help="processes (default: cores, ≤ 4)"
    )
    exe.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors (default: off)")


def _validate_command(sub: _Commands) -> None:
    val = sub.add_parser(
        "validate",
        help="check a spec and say what is wrong",
        epilog=EPILOG_VALIDATE,
        formatter_class=_Formatter,
    )
    val.add_argument("spec", help="a TOML/JSON spec, a built-in name, or - for stdin")
    val.add_argument("--no-limit", action="store_true", help="lift the resource limits (default: limits on)")
    val.add_argument(
        "--format", choices=("text", "json"), default="text", help="one line, or JSON for other programs (default text)"
    )


def _export_command(sub: _Commands) -> None:
    exp = sub.add_parser(
        "export",
        help="write a spec as a runnable PyTorch script",
        epilog=EPILOG_EXPORT,
        formatter_class=_Formatter,
    )
    exp.add_argument("target", choices=("torch",), help="what to write: torch (a PyTorch training script)")
    exp.add_argument("spec", help="a TOML/JSON spec or a built-in name")
    exp.add_argument("-o", "--output", default="-", metavar="FILE", help="where to write (default: stdout)")


def _schema_command(sub: _Commands) -> None:
    sch = sub.add_parser(
        "schema",
        help="print the JSON Schema of a spec or of a trace",
        epilog=EPILOG_SCHEMA,
        formatter_class=_Formatter,
    )
    sch.add_argument("which", choices=("spec", "trace"), help="spec (for editors) or trace (trace.json)")


def _completion_command(sub: _Commands) -> None:
    comp = sub.add_parser(
        "completion",
        help="print a shell completion script",
        epilog=EPILOG_COMPLETION,
        formatter_class=_Formatter,
    )
    comp.add_argument("shell", choices=("bash", "zsh", "fish"), help="the shell to complete in")


_COMMAND_PARSERS: dict[str, Callable[[_Commands], None]] = {
    "run": _run_command,
    "render": _render_command,
    "examples": _examples_command,
    "check": _check_command,
    "exercises": _exercises_command,
    "validate": _validate_command,
    "export": _export_command,
    "schema": _schema_command,
    "completion": _completion_command,
}


# ---------------------------------------------------------------- commands


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def terminal(s: str) -> str:
    """Text for a terminal on one line: control characters (a line break, an escape sequence in a
    file name or a trace) shown as escapes, so none can act on the screen."""
    return _CONTROL.sub(lambda m: {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(m.group(), f"\\x{ord(m.group()):02x}"), s)


def _say(args: argparse.Namespace, line: str) -> None:
    if not getattr(args, "quiet", False):
        print(terminal(line))


def _progress(args: argparse.Namespace, total: int) -> tuple[Any, Any]:
    """A progress bar on a terminal for runs that take more than about a second."""
    if args.quiet or not sys.stderr.isatty() or total < 2:
        return None, None
    import shutil

    from tqdm import tqdm

    # a terminal that reports no size (some pseudo-terminals) would get no bar at all
    size = shutil.get_terminal_size((80, 24))
    bar = tqdm(
        total=total, unit="it", unit_scale=True, delay=1.0, file=sys.stderr, leave=False,
        ncols=min(size.columns, 100), nrows=max(size.lines, 2),
    )  # fmt: skip

    def update(done: int) -> None:
        bar.update(done - bar.n)

    return update, bar


def _load(arg: str, **kw: Any) -> Any:
    """The spec a command names; - reads it from standard input (a trace's spec too)."""
    from .spec import is_trace, load_spec, parse_text

    if arg != "-":
        return load_spec(arg, **kw)
    data = parse_text(sys.stdin.buffer.read(), "<stdin>")
    try:
        return load_spec(data["spec"] if is_trace(data) else data, **kw)
    except SpecError as e:
        raise e.at("<stdin>") from None


def cmd_run(args: argparse.Namespace) -> int:
    from .tracer import trace

    spec = _load(
        args.spec, limits=not args.no_limit, iterations=args.iterations, rounding=args.rounding, derive=args.derive
    )
    folder = _target(args)
    update, bar = _progress(args, spec["iterations"])
    try:
        tr = trace(spec, detail=args.detail, limits=not args.no_limit, progress=update)
    finally:
        if bar is not None:
            bar.close()
    files = _render(tr, args)
    return _finish(args, folder, files, tr)


def cmd_render(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .spec import looks_like_spec
    from .tracedata import Trace

    folder = _target(args)
    raw = _read_trace(Path(args.trace), args.trace)
    if looks_like_spec(raw):
        raise SpecError(f"this is a spec, not a trace: use bptrace run {args.trace}", source=args.trace)
    try:
        tr = Trace.from_dict(raw)
    except SpecError as e:
        raise e.at(args.trace) from None
    try:
        files = _render(tr, args)
    except SpecError as e:
        raise (e if e.source else e.at(args.trace)) from None
    except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError, LookupError) as e:
        # the trace passed the shape checks but does not hold what its own spec implies
        raise SpecError(
            f"the records do not fit the spec (a report needs {e}); was the trace edited?", "steps", args.trace
        ) from None
    return _finish(args, folder, files, tr)


def _read_trace(path: Path, source: str) -> Any:
    """A trace file as plain data. A long run writes a trace larger than a document may be when
    read whole (its history holds about 20 bytes of text per iteration): then the history is read
    apart, into 8 bytes per iteration, as the run held it."""
    from .spec import MAX_FILE_BYTES, read_document

    try:
        size = path.stat().st_size if path.is_file() else 0
    except OSError:
        size = 0
    if size <= MAX_FILE_BYTES:
        return read_document(path, source)
    from .tracejson.history import read_long

    return read_long(path, source, MAX_FILE_BYTES)


def _target(args: argparse.Namespace) -> str | None:
    from .output import check_folder

    if args.templates and not os.path.isdir(args.templates):
        raise SpecError("not a folder of templates", source=args.templates)
    return check_folder(args.output, len(args.format))


def _render(tr: Any, args: argparse.Namespace) -> dict[str, Any]:
    files: dict[str, Any] = {}
    reports = [f for f in args.format if f != "json"]
    if reports:
        import jinja2

        from .reports import render_files

        try:
            files.update(
                render_files(
                    tr, reports, lang=args.lang, digits=args.digits, templates=args.templates, single=args.output == "-"
                )
            )
        except jinja2.TemplateSyntaxError as e:
            raise SpecError(f"line {e.lineno}: {e.message}", source=e.filename or e.name or "template") from None
        except jinja2.TemplateError as e:
            if not args.templates:
                raise
            raise SpecError(f"a template failed: {e}", source=args.templates) from None
    if "json" in args.format:
        files["trace.json"] = tr.iter_json()
    return files


def _finish(args: argparse.Namespace, folder: str | None, files: dict[str, Any], tr: Any) -> int:
    from .output import write_all, write_run

    for path in write_all(None, files) if folder is None else write_run(folder, files):
        _say(args, path)
    if tr.diverged:
        sys.stderr.write(f"bptrace: {terminal(tr.diverged['message'])}\n")
        return 3
    return 0


def cmd_examples(args: argparse.Namespace) -> int:
    from .spec import example_names, example_text

    if args.name is None:
        for n in example_names():
            first = example_text(n).splitlines()[0].lstrip("# ").strip()
            print(f"{n:10} {first}")
        return 0
    sys.stdout.write(example_text(args.name))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    import json

    from .guard import check_resources

    try:
        spec = _load(args.spec, limits=not args.no_limit)
        check_resources(spec, 1, not args.no_limit)
    except SpecError as e:
        if args.format != "json":
            raise
        print(json.dumps({"valid": False, "source": e.source, "path": e.path, "error": e.detail, "message": str(e)}))
        return 2
    sizes = "-".join(str(layer["size"]) for layer in spec["layers"])
    if args.format == "json":
        summary = {
            "valid": True,
            "source": args.spec,
            "title": spec["title"],
            "sizes": [layer["size"] for layer in spec["layers"]],
            **{k: spec[k] for k in ("loss", "mode", "iterations", "learning_rate")},
            "samples": len(spec["samples"]),
        }
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    print(
        f"{args.spec}: ok: {sizes} network, {spec['loss']}, {len(spec['samples'])} sample"
        f"{'s' * (len(spec['samples']) != 1)}, {spec['iterations']} iteration{'s' * (spec['iterations'] != 1)} ({spec['mode']})"
    )
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import feedback
    from .diagnosis import load_table
    from .grading import Grader, answer_files, read_answers, variant_of, variant_specs
    from .spec import load_spec
    from .tracer import trace

    if args.spec == "-" and "-" in args.answers:
        raise SpecError("only one of the spec and the answers can come from standard input", "answers")
    files = answer_files(args.answers)
    table = load_table() + (load_table(Path(args.misconceptions)) if args.misconceptions else [])
    metas: list[dict[str, int]] = [{} for _ in files]
    answers = [read_answers(f, m) for f, m in zip(files, metas)]  # every file is read before any is graded
    if Path(args.spec).is_dir():  # an exercise set: each file is graded against its own variant
        known = variant_specs(Path(args.spec))
        which = [variant_of(f, m, known) for f, m in zip(files, metas)]
        graders: dict[int, Grader] = {}
        for n in dict.fromkeys(which):
            spec = load_spec(known[n], iterations=1, rounding=args.rounding)
            graders[n] = Grader(trace(spec, detail=1), min_digits=args.min_digits, table=table)
        grades = [graders[n].grade(a, str(f)) for n, f, a in zip(which, files, answers)]
        spec = load_spec(known[min(known)])
        title = re.sub(r" \(\d+\)$", "", titles.text_in(spec["title"], args.lang))
    else:
        spec = _load(args.spec, iterations=1, rounding=args.rounding)
        grader = Grader(trace(spec, detail=1), min_digits=args.min_digits, table=table)
        grades = [grader.grade(a, str(f)) for f, a in zip(files, answers)]
        title = titles.text_in(spec["title"], args.lang)
    digits = args.digits or 9
    parts = []
    for f, g in zip(files, grades):
        if args.format == "md":
            out = feedback.markdown_report(g, title, digits, args.lang)
        elif args.format == "json":
            out = feedback.json_report(g, digits, args.lang)
        else:
            out = feedback.text_report(g, digits, args.lang)
        parts.append((f, out))
    if args.format == "json" and len(parts) > 1:
        import json

        text = (
            json.dumps(
                [
                    {"file": str(f), "answers": feedback.json_answers(g, digits, args.lang)}
                    for f, g in zip(files, grades)
                ],
                ensure_ascii=False,
                indent=1,
            )
            + "\n"
        )
    elif len(parts) > 1:
        heading = feedback.words(args.lang)["file_heading"]
        text = "\n".join(f"{heading.format(file=f)}\n\n{out}" for f, out in parts)
    else:
        text = parts[0][1]
    written: dict[Path, str] = {}
    if args.summary:
        from .classsummary import summary_files, to_text

        written.update(summary_files(Path(args.summary), title, files, grades, args.lang, table))
        if args.output == "-":  # the class table instead of every file's feedback; -o FILE keeps those
            text = to_text(title, files, grades, args.lang)
    if args.output != "-":
        target = Path(args.output)
        if target.is_dir():
            raise SpecError("is a folder; -o takes a file here", source=args.output)
        written[target] = text
    from .output import check_target, write_all

    for target in written:
        if target.is_dir():
            raise SpecError("is a folder; a file is needed here", source=str(target))
        check_target(str(target.parent), 1)
    if args.output == "-":
        sys.stdout.write(text)
    for target, body in written.items():
        write_all(target.parent, {target.name: body})
    return 0 if all(g.all_right for g in grades) else 1


def cmd_schema(args: argparse.Namespace) -> int:
    from importlib import resources

    sys.stdout.write(
        resources.files("bptrace").joinpath(f"schema/{args.which}.schema.json").read_text(encoding="utf-8")
    )
    return 0


def cmd_completion(args: argparse.Namespace) -> int:
    from .completion import script

    sys.stdout.write(script(build_parser(), args.shell))
    return 0


def cmd_exercises(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .exercises import make_set
    from .output import check_target

    folder = check_target(args.output, 1)
    assert folder is not None
    if args.templates and not Path(args.templates).is_dir():
        raise SpecError("not a folder of templates", source=args.templates)
    if args.spread is not None and not (args.spread >= 0 and args.spread < 1e6):
        raise SpecError(f"expected a spread from 0 up, got {args.spread}", "--spread")
    update, bar = _progress(args, args.count)
    try:
        written = make_set(
            _load(args.spec) if args.spec == "-" else args.spec, folder, args.count, args.seed,
            spread=args.spread, decimals=args.decimals, lang=args.lang, digits=args.digits,
            templates=args.templates, jobs=args.jobs, ask=args.ask, progress=update,
        )  # fmt: skip
    finally:
        if bar is not None:
            bar.close()
    _say(
        args,
        f"{args.count} variant{'s' * (args.count != 1)} in {folder} ({len(written)} files; index: {folder / 'teachers' / 'index.md'})",
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .export_torch import torch_script
    from .output import check_target, write_all
    from .spec import load_spec

    spec = load_spec(args.spec)
    try:
        script = torch_script(spec)
    except SpecError as e:
        raise e.at(spec.source) from None
    if args.output == "-":
        sys.stdout.write(script)
        return 0
    target = Path(args.output)
    if target.is_dir():
        raise SpecError("is a folder; -o takes a file here", source=args.output)
    check_target(str(target.parent), 1)
    write_all(target.parent, {target.name: script})
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": cmd_run,
    "render": cmd_render,
    "examples": cmd_examples,
    "validate": cmd_validate,
    "check": cmd_check,
    "exercises": cmd_exercises,
    "export": cmd_export,
    "schema": cmd_schema,
    "completion": cmd_completion,
}


def cli(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv[0] if argv and argv[0] in _COMMAND_PARSERS else None)
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return COMMANDS[args.command](args)
    except SpecError as e:
        sys.stderr.write(f"bptrace: {terminal(_capped(e))}\n")
        return 2
    except KeyboardInterrupt as e:
        sys.stderr.write(f"bptrace: {'terminated' if isinstance(e, Terminated) else 'interrupted'}\n")
        return 143 if isinstance(e, Terminated) else 130
    except BrokenPipeError:
        return 0
    except OSError as e:  # a path too long, a full disk or stdout: the machine's answer to the input
        where = short(os.fsdecode(e.filename), MAX_ECHO) if e.filename else "<stdout>"
        sys.stderr.write(f"bptrace: {terminal(where)}: {terminal(e.strerror or str(e))}\n")
        return 2
    except Exception as e:  # an internal fault: say so in one line; BPTRACE_DEBUG=1 shows where
        if os.environ.get("BPTRACE_DEBUG"):
            raise
        sys.stderr.write(
            f"bptrace: internal error: {type(e).__name__}: {terminal(short(str(e), MAX_ECHO))} "
            "(set BPTRACE_DEBUG=1 for a traceback)\n"
        )
        # check's 1 means "an answer is wrong": a grading script must not count a crash as one
        return INTERNAL_CHECK if args.command == "check" else 1


MAX_ECHO = 200  # characters of a file name or message said back on one line
INTERNAL_CHECK = 4


def _capped(e: SpecError) -> str:
    """The one-line message with each part of it capped, whatever a file name or value holds."""
    return ": ".join(
        p for p in (short(e.source, MAX_ECHO), short(e.path, MAX_ECHO), short(e.detail, 2 * MAX_ECHO)) if p
    )


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as SIGINT is: the run stops where it is and writes nothing half."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated


def main() -> NoReturn:
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(cli())
