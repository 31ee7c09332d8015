"""``polyptt loop``: a walkie-talkie at the terminal.

Map by purpose
--------------
The rules (half duplex, busy channel, contention, hold-to-talk, the VOX gate), no I/O
    `polyptt.loop.state`
Keys from the terminal, and the terminal restored
    `polyptt.loop.keys`
The live panel, and the levels its meter shows
    `polyptt.loop.panel`, `polyptt.loop.levels`
Hands-free talk (``--vox``): one capture that opens the gate and carries the page
    `polyptt.loop.vox`
The event loop that wires them to the receiver, the pacer and the devices
    `polyptt.loop.app`
"""
