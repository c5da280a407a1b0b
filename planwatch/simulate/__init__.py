"""The demo feed: a seeded, realistic scenario of the plan's agencies reporting, and its sender."""
