"""The stream worker: joins department facts and roster changes against per-person state."""
