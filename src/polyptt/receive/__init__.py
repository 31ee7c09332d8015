"""Receiving pages: datagrams in, pages with their audio out, to any listener.

The data path is sockets -> driver -> receiver -> page -> listeners: ``listen``, ``loop``
and the relay differ only in the driver (selectors or asyncio) and the listeners
(player, recorder, reporter, a browser).

Map by purpose
--------------
The core, no I/O: track concurrent pages, report them, filter our own
    :class:`~polyptt.receive.receiver.Receiver`, listeners
    :class:`~polyptt.receive.receiver.PageListener` and
    :class:`~polyptt.receive.receiver.AudioListener`
One page: identity, codec, decoding, concealment, statistics
    :class:`~polyptt.receive.session.Page` (its frames ordered and repaired by
    :class:`~polyptt.receive.jitter.FrameBuffer`)
Sockets and the loops that feed the receiver (blocking or asyncio, one policy)
    :func:`~polyptt.receive.inbound.open_sockets`, :func:`~polyptt.receive.inbound.serve`,
    :func:`~polyptt.receive.inbound.serve_async`,
    :class:`~polyptt.receive.driver.ReceiveDriver`
Listeners that ship with polyptt
    :class:`~polyptt.receive.recorder.Recorder` (WAV + JSON per page),
    :class:`~polyptt.receive.report.Reporter` (text or JSON lines), the speaker's
    :class:`~polyptt.receive.arbiter.Arbiter` (the phones' priority rules)
Whether a new page may start on a channel others are paging (``loop`` and the relay)
    :func:`~polyptt.receive.busy.blocking_page`
What ``polyptt listen`` does, callable without the command
    :class:`~polyptt.receive.job.ListenJob`, :func:`~polyptt.receive.job.run`
"""
