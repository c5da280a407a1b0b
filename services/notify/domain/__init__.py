"""The notify service's pure domain: Alertmanager's routing, grouping, dedup, inhibition and
silencing semantics, the notification payload formats, the delivery policy, and the flush
lifecycle of a group and of each of its notifications as state machines
(``flush_lifecycle``, ``delivery_lifecycle``).

Everything here is plain functions over plain data: no I/O, no clock (``now`` is always a
parameter), no randomness unless a draw or a seeded ``random.Random`` is passed in.
"""
