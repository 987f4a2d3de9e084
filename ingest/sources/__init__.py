"""Sources of the pipeline: each turns what a transport receives into deliveries with an ack."""
