"""``polyptt loop``: a walkie-talkie at the terminal.

Map by purpose
--------------
The rules (half duplex, busy channel, contention, hold-to-talk), no I/O
    `polyptt.loop.state`
Keys from the terminal, and the terminal restored
    `polyptt.loop.keys`
The live panel
    `polyptt.loop.panel`
The event loop that wires them to the receiver, the pacer and the devices
    `polyptt.loop.app`
"""
