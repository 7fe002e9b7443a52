"""knflow's side-by-side benchmark suite (issue 11): `make bench` or `python -m bench`."""
