"""The relay's client: ``send --relay`` and ``listen --relay``, through a remote relay.

`send` and `listen` are the two jobs (`send.RelaySendJob`, `listen.RelayListenJob`, each
with its `run`), callable without Click: `send` uploads a file or streams live audio,
`listen` follows the relay's pages and reports, records and plays them as ``listen``
does. `client` speaks the relay's HTTP and WebSocket API (every command first asks who
the token is); `failures` says what went wrong between this host and the relay in the
user's terms; `sources` hands a talk's live audio (`polyptt.audio.live`'s microphone or
raw reader) to the stream. It shares only the wire facts with the relay
(`polyptt.relay.wire`), never the server's hub.
"""
