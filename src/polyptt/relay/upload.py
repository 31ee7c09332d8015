"""The audio of ``POST /api/v1/pages``: the body itself, or the one file of a form.

``curl --data-binary @tone.wav`` (and the web page) send the file as the body;
``curl -F file=@tone.wav`` and an HTML form send a ``multipart/form-data`` body whose
one file part is the audio. `read_audio` takes either, within the application's
``client_max_size`` (``max_upload_bytes``: 413 beyond), and says how to send audio when
the body is neither (`HOW_TO_SEND`).

A form holds the file and nothing else: the page's options go in the query string, and
a ``channel`` field that was silently ignored would page the wrong phones.
"""

from __future__ import annotations

from aiohttp import BodyPartReader, web

__all__ = ["HOW_TO_SEND", "UploadError", "read_audio"]

#: How to send a page's audio, said whenever a body is not some.
HOW_TO_SEND = (
    "send the audio file itself as the body (curl --data-binary @FILE) or a "
    "multipart form with one file (curl -F file=@FILE)"
)

_CHUNK = 1 << 16


class UploadError(Exception):
    """The request holds no audio to page; `status` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def read_audio(request: web.Request) -> bytes:
    """The audio file of `request`: its body, or its form's one file.

    Raises
    ------
    UploadError
        No body, a form without exactly one file (or with other fields), or more than
        the relay takes (413).
    """
    if request.content_type == "multipart/form-data":
        return await _form_file(request)
    body = await request.read()  # the application's client_max_size bounds it (413)
    if not body:
        raise UploadError(400, f"the request has no body: {HOW_TO_SEND}")
    return body


async def _form_file(request: web.Request) -> bytes:
    """The one file part of a multipart form, read within the upload limit."""
    try:
        reader = await request.multipart()
        audio: bytes | None = None
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise UploadError(400, "a form inside the form: send one file")
            if part.filename is None:
                raise UploadError(
                    400,
                    f"the form's field {part.name!r} is not a file: the form holds the audio "
                    "file only, and options go in the query (?channel=26&codec=g722)",
                )
            if audio is not None:
                raise UploadError(400, "the form holds more than one file: send one")
            audio = await _read_part(part, request.client_max_size)
    except ValueError as exc:  # a boundary or header aiohttp cannot parse
        raise UploadError(400, f"a multipart form that cannot be read ({exc})") from None
    if audio is None:
        raise UploadError(400, f"the form holds no file: {HOW_TO_SEND}")
    if not audio:
        raise UploadError(400, "the form's file is empty")
    return audio


async def _read_part(part: BodyPartReader, limit: int) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(_CHUNK):
        data += chunk
        if len(data) > limit:
            raise UploadError(413, f"the file is larger than the relay takes ({limit} bytes)")
    return bytes(data)
