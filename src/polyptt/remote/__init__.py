"""The relay's client: ``send --relay`` and ``listen --relay``, through a remote relay.

`client` speaks the relay's HTTP and WebSocket API (every command first asks who the
token is); `failures` says what went wrong between this host and the relay in the
user's terms; `send` uploads a file or streams live audio, `listen` follows the relay's
pages; `sources` captures or reads the live audio a talk streams. It shares only the
wire facts with the relay (`polyptt.relay.wire`), never the server's hub or recorder.
"""
