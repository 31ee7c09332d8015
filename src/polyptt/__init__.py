"""polyptt: take part in Polycom / Poly / Spectralink push-to-talk and group paging.

Map of the package, by purpose:

- ``polyptt.codecs``: G.711, G.722 and G.726 (incl. G.726QI) encoders and decoders,
  bit-exact to the ITU-T recommendations, in a compiled C++ core.
- ``polyptt.protocol``: the proprietary paging packets (alert, transmit, end).
- ``polyptt.cli``: the ``polyptt`` command.

This module stays tiny on purpose: ``polyptt send`` from cron must reach its first packet
fast, so nothing heavy is imported until a subcommand needs it.
"""

__version__ = "0.1.0"
