"""The bptrace command line. ``cli(argv) -> exit status`` so tests call it directly.

Exit status: 0 done; 1 an internal fault; 2 bad input (one line on stderr, nothing written);
3 training diverged (the trace up to that point is written); for ``check``, 1 means a wrong answer.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__
from .errors import SpecError

FORMATS = ("md", "html", "json")
LANGS = ("en", "zh")

EPILOG_RUN = """examples:
  bptrace run                          the article's 2-2-2 network: report.md, report.html, trace.json
  bptrace run --lang zh -o out         the same in Chinese, into out/
  bptrace run xor --iterations 2000    a built-in example with more iterations
  bptrace run my.toml --format md -o - one format to stdout
  bptrace run --rounding hand:4        carry values rounded to 4 decimals, as by hand
"""
EPILOG_RENDER = """examples:
  bptrace render bptrace-out/trace.json --lang zh -o zh
  bptrace render trace.json --format html --digits 4 -o -
"""
EPILOG_EXAMPLES = """examples:
  bptrace examples                     list the built-in specs
  bptrace examples article > my.toml   start a spec of your own from one
"""
EPILOG_VALIDATE = """examples:
  bptrace validate my.toml             say what is wrong, or print a summary (exit 0)
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # one line, like every other bad input
        sys.stderr.write(f"bptrace: {message} (see: {self.prog} --help)\n")
        raise SystemExit(2)


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
    p.add_argument("--templates", metavar="DIR", help="a folder of templates that come before the built-in ones")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="bptrace", description="Backpropagation made visible: trace a small network and render a worked example."
    )
    p.add_argument("--version", action="version", version=f"bptrace {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser(
        "run",
        help="trace a spec and write the reports",
        epilog=EPILOG_RUN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("spec", nargs="?", default="article", help="a TOML/JSON spec or a built-in name (default article)")
    _report_options(run, FORMATS, "md,html,json")
    run.add_argument("--iterations", type=_int_range(1, 10**18), metavar="N", help="override the spec's iterations")
    run.add_argument("--detail", type=_detail, default=1, metavar="N|all", help="iterations traced in full (default 1)")
    run.add_argument("--rounding", metavar="MODE", help="exact, or hand:N to carry values rounded to N decimals")
    run.add_argument("--no-limit", action="store_true", help="lift the resource limits")

    ren = sub.add_parser(
        "render",
        help="render reports from a saved trace.json",
        epilog=EPILOG_RENDER,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ren.add_argument("trace", help="a trace.json written by bptrace run")
    _report_options(ren, FORMATS, "md,html")

    ex = sub.add_parser(
        "examples",
        help="list the built-in specs, or print one as TOML",
        epilog=EPILOG_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ex.add_argument("name", nargs="?")

    val = sub.add_parser(
        "validate",
        help="check a spec and say what is wrong",
        epilog=EPILOG_VALIDATE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    val.add_argument("spec")
    val.add_argument("--no-limit", action="store_true", help="lift the resource limits")
    return p


# ---------------------------------------------------------------- commands


def _say(args: argparse.Namespace, line: str) -> None:
    if not getattr(args, "quiet", False):
        print(line)


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


def cmd_run(args: argparse.Namespace) -> int:
    from .spec import load_spec
    from .tracer import trace

    spec = load_spec(args.spec, limits=not args.no_limit, iterations=args.iterations, rounding=args.rounding)
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
    from .spec import read_document
    from .tracedata import Trace

    folder = _target(args)
    raw = read_document(Path(args.trace), args.trace)
    try:
        tr = Trace.from_dict(raw)
    except SpecError as e:
        raise e.at(args.trace) from None
    try:
        files = _render(tr, args)
    except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError, LookupError) as e:
        # the trace passed the shape checks but does not hold what its own spec implies
        raise SpecError(
            f"the records do not fit the spec (a report needs {e}); was the trace edited?", "steps", args.trace
        ) from None
    return _finish(args, folder, files, tr)


def _target(args: argparse.Namespace) -> Path | None:
    from .output import check_target

    if args.templates and not Path(args.templates).is_dir():
        raise SpecError("not a folder of templates", source=args.templates)
    return check_target(args.output, len(args.format))


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


def _finish(args: argparse.Namespace, folder: Path | None, files: dict[str, Any], tr: Any) -> int:
    from .output import write_all

    for path in write_all(folder, files):
        _say(args, path)
    if tr.diverged:
        sys.stderr.write(f"bptrace: {tr.diverged['message']}\n")
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
    from .guard import check_resources
    from .spec import load_spec

    spec = load_spec(args.spec, limits=not args.no_limit)
    check_resources(spec, 1, not args.no_limit)
    sizes = "-".join(str(layer["size"]) for layer in spec["layers"])
    print(
        f"{args.spec}: ok: {sizes} network, {spec['loss']}, {len(spec['samples'])} sample"
        f"{'s' * (len(spec['samples']) != 1)}, {spec['iterations']} iteration{'s' * (spec['iterations'] != 1)} ({spec['mode']})"
    )
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": cmd_run,
    "render": cmd_render,
    "examples": cmd_examples,
    "validate": cmd_validate,
}


def cli(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
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
        one_line = str(e).replace("\r", "\\r").replace("\n", "\\n")  # one line, whatever a name holds
        sys.stderr.write(f"bptrace: {one_line}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("bptrace: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # an internal fault: say so in one line; BPTRACE_DEBUG=1 shows where
        if os.environ.get("BPTRACE_DEBUG"):
            raise
        sys.stderr.write(f"bptrace: internal error: {type(e).__name__}: {e} (set BPTRACE_DEBUG=1 for a traceback)\n")
        return 1


def main() -> NoReturn:
    sys.exit(cli())
