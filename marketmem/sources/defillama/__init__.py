"""DefiLlama: capital base, capital flows and economic throughput per subject."""
