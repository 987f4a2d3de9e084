"""The `intake` console command: one entry point for every part of the service."""
