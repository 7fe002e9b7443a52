"""step-executor: continue instances for step events and for the events workflows consume."""
