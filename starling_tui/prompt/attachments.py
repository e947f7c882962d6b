"""How attached files appear inside a user turn: one fixed form for every prompt format.

A user message with files reads, in OpenChat, ``Code User:`` and any GGUF chat template alike::

    File: src/a.py
    ```python
    def f(x):
        return x
    ```

    Add type hints

Each file is its name on a ``File:`` line, then a fenced block whose info string is the
language guessed from the name (empty when unknown) and whose fence is longer than any run of
backticks inside the file, so no line of the file can close it early. Files come first, in the
order given, one blank line apart; the message's own text comes last, after a blank line, so the
question is the last thing the model reads before answering. A message without files is its
text unchanged.

The form is a pure function of the message, so regenerating, editing, switching branches or
resuming after a restart rebuilds the very same ids; the files are part of their message's turn,
so fitting the window keeps or drops them together with it.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath

from starling_tui.types import Attachment, ChatMessage

MIN_FENCE = 3  # CommonMark's shortest code fence

# Fence info strings for common file types (the names GitHub-flavoured Markdown highlights).
LANGUAGES: dict[str, str] = {
    ".py": "python", ".pyi": "python", ".ipynb": "json", ".js": "javascript",
    ".mjs": "javascript", ".cjs": "javascript", ".jsx": "jsx", ".ts": "typescript",
    ".tsx": "tsx", ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp",
    ".hpp": "cpp", ".hh": "cpp", ".hxx": "cpp", ".cs": "csharp", ".java": "java",
    ".kt": "kotlin", ".kts": "kotlin", ".scala": "scala", ".go": "go", ".rs": "rust",
    ".swift": "swift", ".m": "objectivec", ".rb": "ruby", ".php": "php", ".pl": "perl",
    ".lua": "lua", ".r": "r", ".jl": "julia", ".hs": "haskell", ".ml": "ocaml",
    ".ex": "elixir", ".exs": "elixir", ".erl": "erlang", ".clj": "clojure", ".dart": "dart",
    ".zig": "zig", ".nim": "nim", ".sh": "bash", ".bash": "bash", ".zsh": "zsh",
    ".fish": "fish", ".ps1": "powershell", ".bat": "batch", ".sql": "sql", ".html": "html",
    ".htm": "html", ".xml": "xml", ".svg": "xml", ".css": "css", ".scss": "scss",
    ".less": "less", ".vue": "vue", ".svelte": "svelte", ".json": "json", ".jsonl": "json",
    ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".ini": "ini", ".cfg": "ini",
    ".md": "markdown", ".rst": "rst", ".tex": "latex", ".csv": "csv", ".diff": "diff",
    ".patch": "diff", ".proto": "protobuf", ".graphql": "graphql", ".tf": "hcl",
    ".cmake": "cmake", ".mk": "makefile", ".gradle": "groovy", ".groovy": "groovy",
}
# Files known by their whole name rather than an extension.
NAMED_LANGUAGES: dict[str, str] = {
    "Dockerfile": "dockerfile", "Containerfile": "dockerfile", "Makefile": "makefile",
    "GNUmakefile": "makefile", "CMakeLists.txt": "cmake", "Gemfile": "ruby",
    "Rakefile": "ruby", "Justfile": "just",
}

_BACKTICK_RUN = re.compile(r"`+")


def fence_language(name: str) -> str:
    """The fence info string for a file called ``name`` ('' when the type is unknown)."""
    base = PurePosixPath(name.replace("\\", "/")).name
    if base in NAMED_LANGUAGES:
        return NAMED_LANGUAGES[base]
    return LANGUAGES.get(PurePosixPath(base).suffix.lower(), "")


def fence_for(text: str) -> str:
    """A backtick fence longer than every backtick run in ``text`` (at least three)."""
    longest = max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0)
    return "`" * max(MIN_FENCE, longest + 1)


def shown_name(name: str) -> str:
    """``name`` on one line: control characters (a newline in a file name) written as escapes,
    so a name cannot start lines of its own in the prompt."""
    return "".join(
        ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) == "Cc" else ch
        for ch in name
    )


def render_attachment(attachment: Attachment) -> str:
    """One file as the model reads it: the ``File:`` line and the fenced text."""
    fence = fence_for(attachment.text)
    body = attachment.text if attachment.text.endswith("\n") or not attachment.text \
        else attachment.text + "\n"
    language = fence_language(attachment.name)
    return f"File: {shown_name(attachment.name)}\n{fence}{language}\n{body}{fence}"


def turn_text(message: ChatMessage) -> str:
    """The text of ``message``'s turn: its files (if any), then its own text."""
    if not message.attachments:
        return message.content
    blocks = [render_attachment(a) for a in message.attachments]
    if message.content:
        blocks.append(message.content)
    return "\n\n".join(blocks)
