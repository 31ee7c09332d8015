"""The relay's client: ``send --relay`` and ``listen --relay``, through a remote relay.

`client` speaks the relay's HTTP and WebSocket API; `sources` captures or reads the
live audio a talk streams. It shares only the wire facts with the relay
(`polyptt.relay.wire`), never the server's hub or recorder.
"""
