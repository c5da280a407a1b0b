"""planwatch: tracks a government plan's targets as the agencies report on them."""
