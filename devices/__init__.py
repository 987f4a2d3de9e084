"""What a meter, an intake and a permit are and say: domain types, the wire codec, topics, the registry."""
