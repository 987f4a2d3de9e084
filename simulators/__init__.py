"""Virtual meter fleets with realistic usage profiles and injected faults."""
