"""`planwatch demo`: the platform up locally, the demo feed through it, a live view."""
