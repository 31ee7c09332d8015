"""What the relay keeps across restarts, in its data directory (``--data``).

`database` is the one SQLite file (``relay.db``) that every part of the relay keeping a
record writes its own tables in, from one worker thread so that no query ever blocks
the event loop. The page store and the schedules build on it.
"""
