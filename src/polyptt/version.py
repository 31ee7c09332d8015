"""This install's version, with how its codec extension was compiled.

``polyptt --version`` prints :func:`version_line`, so that a bug report or an admin
checking an install sees at once whether the codecs are an optimised build, and from
which compiler (a wheel carries the build it was made with, a source install the local
compiler's). Loading the extension costs a few milliseconds and imports nothing else; a
broken install still gets its version, with the reason the codecs do not load.
"""

from __future__ import annotations

from polyptt import __version__

__all__ = ["codec_build_description", "version_line"]


def codec_build_description(build: dict[str, object]) -> str:
    """Say in a few words how the codec extension was compiled.

    Parameters
    ----------
    build
        ``polyptt._codec._build``: ``optimized`` and ``asserts`` (bools) and ``compiler``
        (the compiler's ``__VERSION__``: GCC gives a bare version, Clang names itself).

    Returns
    -------
    str
        E.g. ``"optimised, gcc 12.2.0"``, or ``"unoptimised, asserts on, Clang 16.0.0"``.
    """
    words = ["optimised" if build.get("optimized") else "unoptimised"]
    if build.get("asserts"):
        words.append("asserts on")
    compiler = str(build.get("compiler", "unknown compiler"))
    words.append(f"gcc {compiler}" if compiler[:1].isdigit() else compiler)
    return ", ".join(words)


def version_line() -> str:
    """``"polyptt 0.1.0 (codecs: optimised, gcc 12.2.0)"``, or the codecs' load error."""
    try:
        from polyptt import _codec

        codecs = codec_build_description(_codec._build)
    except ImportError as exc:
        codecs = f"not loadable: {exc}"
    return f"polyptt {__version__} (codecs: {codecs})"
