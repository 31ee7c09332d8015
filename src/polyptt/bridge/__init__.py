"""RTP <-> Poly: a two-way bridge between Poly paging and RTP multicast paging.

Map by purpose
--------------
The wire, no I/O
    `polyptt.bridge.rtp` (RTP packets, RTCP SR and BYE), `polyptt.bridge.formats`
    (payload types and their coding), `polyptt.bridge.marks` (the loop-prevention rule)
Policies on a clock passed in
    `polyptt.bridge.jitter` (the RTP jitter buffer)
The two directions
    `polyptt.bridge.rtp_to_poly` (a stream becomes a page), `polyptt.bridge.poly_to_rtp`
    (a page becomes a stream), `polyptt.bridge.rates` (low-delay rate conversion)
What ``polyptt bridge`` does, callable without the command
    `polyptt.bridge.config` (mappings, ``[[bridge]]`` tables), `polyptt.bridge.job`
    (:func:`~polyptt.bridge.job.run`), `polyptt.bridge.serve` (the event loop)
"""
