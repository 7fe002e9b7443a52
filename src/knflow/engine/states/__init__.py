"""One module per state type; each turns a state and the instance into the next outcome."""
