"""marketmem: the market memory of a crypto trading backend."""
