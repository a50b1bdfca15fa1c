"""The syrupy extension behind the bptrace_snapshot fixture (imported only when used)."""

from __future__ import annotations

from typing import Any

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from .tracedata import Trace
from .tracetext import trace_text


class TraceSnapshotExtension(SingleFileSnapshotExtension):
    """A trace stored as readable text, one record per line, in its own .trace.txt file."""

    _write_mode = WriteMode.TEXT
    file_extension = "trace.txt"

    def serialize(self, data: Any, **kwargs: Any) -> Any:
        return trace_text(data) if isinstance(data, Trace) else super().serialize(data, **kwargs)
