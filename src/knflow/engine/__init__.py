"""The interpreter: (definition, instance, activation, now) -> outcome, with no I/O."""
