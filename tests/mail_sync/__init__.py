"""Mail and calendar sync against the simulator: ground truth, increments, faults, delta cap, page size, ingest paths."""
